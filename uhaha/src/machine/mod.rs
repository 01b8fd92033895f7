//! The replicated machine: the user's state plus the deterministic time and
//! random numbers that every command sees.
//!
//! A state machine must compute the same thing on every node and on every
//! replay of the log. So a command never reads the wall clock or the thread's
//! random generator: the leader stamps each log entry with its clock and a
//! fresh random seed, and [`Ctx`] hands those out. Rules for your methods:
//!
//! - no `SystemTime::now()`, `Instant::now()` or `rand::thread_rng()`: use
//!   [`Ctx::now`] and [`Ctx::rand`];
//! - no iteration over a `HashMap`/`HashSet` into a reply or into the state
//!   (its order differs between processes): use `BTreeMap`/`BTreeSet`;
//! - no I/O and no global mutable state.

mod contain;
pub mod sds;
mod snapshot;

use crate::error::SnapshotError;
use crate::pubsub::Hub;
use bytes::Bytes;
pub(crate) use contain::{command_reply, contain, contain_future, contain_snapshot, Panicked};
use rand_core::RngCore;
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};
pub use snapshot::{
    capture_with_serde, load_go_json, load_with_serde, CapturedView, Snapshot, SnapshotView,
};
use std::cell::{Cell, RefCell, RefMut};
use std::io::BufRead;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The struct half of `#[uhaha::machine]`: the service's identity, its
/// initial state, and how it is saved to and restored from snapshots.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a uhaha machine",
    label = "put `#[uhaha::machine]` on the struct `{Self}` too",
    note = "`#[uhaha::machine]` goes on both the struct and its impl block"
)]
pub trait Machine: Default + Send + Sync + 'static {
    /// The service's name: in the version line, the help and the data dir.
    const NAME: &'static str;
    /// The service's version.
    const VERSION: &'static str;

    /// Captures the state for a snapshot, while writes wait: serde machines
    /// encode themselves here, custom ones take their [`Snapshot::view`].
    fn capture(&self) -> Result<Box<dyn CapturedView>, SnapshotError>;

    /// The state from what a captured view saved.
    fn load(from: &mut dyn BufRead) -> Result<Self, SnapshotError>;

    /// The state from the payload of a Go uhaha snapshot (`--restore` of a
    /// file that Go's `RAFT SNAPSHOT READ` wrote).
    fn load_go(from: &mut dyn BufRead) -> Result<Self, SnapshotError>;
}

/// The version line, as Go uhaha writes it (`-v`, `VERSION`, the start
/// log): `<name> version <version>[ (<build id>)]`.
pub fn version_line<M: Machine>(build_id: Option<&str>) -> String {
    match build_id {
        Some(id) => format!("{} version {} ({id})", M::NAME, M::VERSION),
        None => format!("{} version {}", M::NAME, M::VERSION),
    }
}

/// The machine's clock and random state, replicated with the data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Clock {
    /// Unix nanoseconds of the first entry ever applied (boot time).
    pub start: u64,
    /// Unix nanoseconds of the machine's current time.
    pub now: u64,
    /// The generator, reseeded by every entry.
    pub rng: Pcg64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            start: 0,
            now: 0,
            rng: rng_from_seed(0),
        }
    }
}

impl Clock {
    /// The clock of a Go uhaha snapshot's header: its start, time and
    /// seed (Go's generator is not carried over, its seed is).
    pub fn from_go(start: i64, now: i64, seed: i64) -> Clock {
        Clock {
            start: start.max(0) as u64,
            now: now.max(0) as u64,
            rng: rng_from_seed(seed as u64),
        }
    }

    /// Moves to an entry's stamp. Time never goes back: a new leader whose
    /// clock is behind continues from the last time plus one nanosecond, so
    /// no write ever fails for a clock step.
    pub fn advance(&mut self, stamp: u64, seed: u64) {
        self.now = stamp.max(self.now + 1);
        if self.start == 0 {
            self.start = self.now;
        }
        self.rng = rng_from_seed(seed);
    }
}

/// A generator from a 64-bit seed, built from the PCG parameters directly so
/// that no library's seeding algorithm can change the stream.
fn rng_from_seed(seed: u64) -> Pcg64 {
    let state = ((seed as u128) << 64) | (seed ^ 0x9e37_79b9_7f4a_7c15) as u128;
    Pcg64::new(state, 0x0a02_bdbf_7bb3_c0a7_ac28_fa16_a64a_bf96)
}

/// What a command method may know besides its arguments: the machine's
/// deterministic time and random numbers.
///
/// Take it as a parameter: `&mut Ctx` (or `&Ctx`) in a `#[write]` method,
/// `&Ctx` in a `#[read]` method.
///
/// ```
/// use uhaha::prelude::*;
///
/// #[uhaha::machine]
/// #[derive(Default)]
/// struct Dice {
///     rolls: Vec<u32>,
/// }
///
/// #[uhaha::machine]
/// impl Dice {
///     /// Rolls a die: the same number on every node.
///     #[write]
///     fn roll(&mut self, ctx: &mut Ctx) -> u32 {
///         let n = ctx.rand().next_u32() % 6 + 1;
///         self.rolls.push(n);
///         n
///     }
///
///     /// Unix seconds of the machine's clock.
///     #[read]
///     fn time(&self, ctx: &Ctx) -> u64 {
///         ctx.now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
///     }
/// }
/// ```
pub struct Ctx<'a> {
    now: Cell<u64>,
    start: u64,
    rng: RandSource<'a>,
    advancing: bool,
    /// Where a write's published messages go; none in a read.
    pubsub: Option<&'a Hub>,
}

enum RandSource<'a> {
    Live(RefCell<&'a mut Pcg64>),
    Frozen(Pcg64),
}

impl<'a> Ctx<'a> {
    /// A context for a write: time and random numbers advance, and
    /// messages are published to `pubsub`.
    pub(crate) fn for_write(clock: &'a mut Clock, pubsub: &'a Hub) -> Ctx<'a> {
        Ctx {
            now: Cell::new(clock.now),
            start: clock.start,
            rng: RandSource::Live(RefCell::new(&mut clock.rng)),
            advancing: true,
            pubsub: Some(pubsub),
        }
    }

    /// A context for a read: time and random numbers are frozen.
    pub(crate) fn for_read(clock: &Clock) -> Ctx<'static> {
        Ctx {
            now: Cell::new(clock.now),
            start: clock.start,
            rng: RandSource::Frozen(clock.rng.clone()),
            advancing: false,
            pubsub: None,
        }
    }

    /// The machine time reached, to store back after a write.
    pub(crate) fn time_nanos(&self) -> u64 {
        self.now.get()
    }

    /// The machine's time. In a write, each call returns one nanosecond more
    /// than the last, so times are unique and increasing on every node; in a
    /// read, it is the time of the last write, unchanged.
    pub fn now(&self) -> SystemTime {
        let now = self.now.get();
        if self.advancing {
            self.now.set(now + 1);
        }
        UNIX_EPOCH + Duration::from_nanos(now)
    }

    /// When the machine first applied an entry (its boot time).
    pub fn boot_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.start)
    }

    /// The machine's random generator, the same on every node. In a read it
    /// is a copy of the last write's state: it gives the same numbers each
    /// time.
    pub fn rand(&self) -> Rand<'_> {
        match &self.rng {
            RandSource::Live(rng) => {
                Rand(RandInner::Live(RefMut::map(rng.borrow_mut(), |r| &mut **r)))
            }
            RandSource::Frozen(rng) => Rand(RandInner::Frozen(rng.clone())),
        }
    }

    /// Publishes `payload` to the subscribers of `channel` (see
    /// [`crate::pubsub`]) on this node; returns how many received it here,
    /// which is what Redis' `PUBLISH` replies. A write runs on every node,
    /// so every node's subscribers receive it.
    ///
    /// It takes `&mut Ctx`, which only a `#[write]` method has: a read runs
    /// on one node only, so its messages would reach one node's subscribers.
    ///
    /// ```
    /// use uhaha::prelude::*;
    ///
    /// #[uhaha::machine]
    /// #[derive(Default)]
    /// struct Chat {
    ///     said: u64,
    /// }
    ///
    /// #[uhaha::machine]
    /// impl Chat {
    ///     /// PUBLISH channel message.
    ///     #[write]
    ///     fn publish(&mut self, ctx: &mut Ctx, channel: Bytes, message: Bytes) -> usize {
    ///         self.said += 1;
    ///         ctx.publish(channel, message)
    ///     }
    /// }
    /// ```
    pub fn publish(&mut self, channel: impl Into<Bytes>, payload: impl Into<Bytes>) -> usize {
        match self.pubsub {
            Some(hub) => hub.publish(&channel.into(), &payload.into()),
            None => 0,
        }
    }
}

/// A borrowed random generator; see [`Ctx::rand`]. It implements
/// [`RngCore`], so `next_u64`, `next_u32` and `fill_bytes` work on it.
pub struct Rand<'a>(RandInner<'a>);

enum RandInner<'a> {
    Live(RefMut<'a, Pcg64>),
    Frozen(Pcg64),
}

/// What Go uhaha's `Rand()` offered beyond raw bits, built from the raw
/// generator by fixed arithmetic (no library distribution whose algorithm
/// could change between versions), so every node draws the same.
///
/// ```
/// use uhaha::prelude::*;
///
/// #[uhaha::machine]
/// #[derive(Default)]
/// struct Ids {
///     ids: Vec<String>,
/// }
///
/// #[uhaha::machine]
/// impl Ids {
///     /// Makes a new id, the same on every node.
///     #[write]
///     fn new_id(&mut self, ctx: &mut Ctx) -> String {
///         let id = ctx.rand().uuid();
///         self.ids.push(id.clone());
///         id
///     }
/// }
/// ```
impl Rand<'_> {
    fn rng(&mut self) -> &mut Pcg64 {
        match &mut self.0 {
            RandInner::Live(r) => r,
            RandInner::Frozen(r) => r,
        }
    }

    /// A random non-negative `i64` (Go uhaha's `Int()`).
    pub fn int(&mut self) -> i64 {
        (self.next_u64() >> 1) as i64
    }

    /// A random `f64` in `[0, 1)`, with 53 random bits (Go uhaha's
    /// `Float64()`).
    pub fn float(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A random version-4 UUID in lower-case hex,
    /// `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx` (Go uhaha's `UUID()`, which
    /// leaves out the variant bits; here they are set as RFC 9562 says).
    pub fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.fill_bytes(&mut bytes);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }
}

impl RngCore for Rand<'_> {
    fn next_u32(&mut self) -> u32 {
        self.rng().next_u32()
    }

    fn next_u64(&mut self) -> u64 {
        self.rng().next_u64()
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        self.rng().fill_bytes(dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_never_goes_back() {
        let mut clock = Clock::default();
        clock.advance(1_000, 1);
        assert_eq!((clock.start, clock.now), (1_000, 1_000));
        clock.advance(500, 2);
        assert_eq!(clock.now, 1_001, "a stamp behind the clock moves it by 1ns");
        clock.advance(5_000, 3);
        assert_eq!((clock.start, clock.now), (1_000, 5_000));
    }

    #[test]
    fn writes_advance_and_reads_freeze() {
        let mut clock = Clock::default();
        clock.advance(10, 7);
        let (a, b, t) = {
            let hub = Hub::default();
            let ctx = Ctx::for_write(&mut clock, &hub);
            let (a, b) = (ctx.now(), ctx.now());
            (a, b, ctx.time_nanos())
        };
        assert!(b > a);
        assert_eq!(t, 12);
        let read = Ctx::for_read(&clock);
        assert_eq!(read.now(), read.now());
        assert_eq!(read.rand().next_u64(), read.rand().next_u64());
    }

    #[test]
    fn same_seed_same_numbers() {
        let (mut x, mut y) = (Clock::default(), Clock::default());
        x.advance(1, 42);
        y.advance(1, 42);
        let a = Ctx::for_write(&mut x, &Hub::default()).rand().next_u64();
        let b = Ctx::for_write(&mut y, &Hub::default()).rand().next_u64();
        assert_eq!(a, b);
        y.advance(2, 43);
        assert_ne!(a, Ctx::for_write(&mut y, &Hub::default()).rand().next_u64());
    }

    /// The draws for a seed are pinned: a change of algorithm would make a
    /// new binary replay an old log differently.
    #[test]
    fn int_float_and_uuid_are_pinned_for_a_seed() {
        let mut clock = Clock::default();
        clock.advance(1, 42);
        let hub = Hub::default();
        let ctx = Ctx::for_write(&mut clock, &hub);
        let mut rand = ctx.rand();
        assert_eq!(rand.int(), 3977834276603591382);
        assert_eq!(rand.float(), 0.6300000123809802);
        assert_eq!(rand.uuid(), "add85867-ccec-46d1-9b06-4978cf07c87c");
    }
}

/// `MACHINE [HUMAN]`: boot time, current time and uptime of the machine.
pub(crate) fn machine_reply(clock: &Clock, human: bool) -> crate::Reply {
    use crate::Reply;
    let uptime = clock.now.saturating_sub(clock.start);
    let (boottime, now, uptime) = if human {
        (
            Reply::bulk(rfc3339(clock.start)),
            Reply::bulk(rfc3339(clock.now)),
            Reply::bulk(crate::duration::format(uptime as i64)),
        )
    } else {
        (
            Reply::Integer(clock.start as i64),
            Reply::Integer(clock.now as i64),
            Reply::Integer(uptime as i64),
        )
    };
    Reply::Map(vec![
        (Reply::bulk("boottime"), boottime),
        (Reply::bulk("now"), now),
        (Reply::bulk("uptime"), uptime),
    ])
}

/// Unix nanoseconds as RFC 3339 in UTC with trailing zeros of the fraction
/// trimmed, as Go's `RFC3339Nano` writes it: `2026-11-23T10:40:57.5Z`.
fn rfc3339(nanos: u64) -> String {
    let secs = nanos / 1_000_000_000;
    let frac = nanos % 1_000_000_000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    );
    if frac != 0 {
        out.push_str(format!(".{frac:09}").trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn rfc3339_matches_go() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_795_339_781_762_266_720),
            "2026-11-22T09:29:41.76226672Z"
        );
        assert_eq!(rfc3339(951_782_400_500_000_000), "2000-02-29T00:00:00.5Z");
    }
}
