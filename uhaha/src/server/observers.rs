//! Observers: the program's view of every command the node processes (Go
//! uhaha's `Observer`), for audit logs and metrics of its own: the
//! command's arguments, its reply, how long it took and who sent it.
//!
//! Commands are handed over through a bounded queue to a thread of the
//! observer's own: a slow observer loses the commands that do not fit
//! (counted in `INFO`'s `observer_dropped_commands`), and command
//! processing never waits for it. Without an observer nothing is copied.

use crate::machine::contain;
use crate::server::monitor::carries_secret;
use crate::Reply;
use bytes::Bytes;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

/// Commands an observer may fall behind before the newest are lost.
const BACKLOG: usize = 4096;

/// A program's observer; see [`crate::NodeBuilder::observe`].
pub type Observer = Arc<dyn Fn(&Observed) + Send + Sync>;

/// One command as the node processed it.
#[derive(Debug, Clone)]
pub struct Observed {
    pub(crate) args: Vec<Bytes>,
    pub(crate) reply: Reply,
    pub(crate) took: Duration,
    pub(crate) addr: SocketAddr,
    pub(crate) conn: u64,
}

impl Observed {
    /// The command's name and arguments, as the client sent them.
    pub fn args(&self) -> &[Bytes] {
        &self.args
    }

    /// The reply the client got (an error reply included).
    pub fn reply(&self) -> &Reply {
        &self.reply
    }

    /// From the command's arrival to its reply's leaving.
    pub fn took(&self) -> Duration {
        self.took
    }

    /// The client's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The client connection's id (as `CLIENT ID` tells it).
    pub fn conn_id(&self) -> u64 {
        self.conn
    }
}

/// `cmd` as an observer sees it: the arguments of `AUTH` and `HELLO`
/// redacted, as `MONITOR` shows them.
pub fn observed_args(cmd: &[Bytes]) -> Vec<Bytes> {
    if carries_secret(cmd) {
        let redacted = Bytes::from_static(b"(redacted)");
        std::iter::once(cmd[0].clone())
            .chain(cmd[1..].iter().map(|_| redacted.clone()))
            .collect()
    } else {
        cmd.to_vec()
    }
}

/// The node's feed of processed commands to its observer, if it has one.
#[derive(Default)]
pub struct Observers {
    feed: Option<SyncSender<Observed>>,
    dropped: AtomicU64,
}

impl Observers {
    /// Starts `observer`'s thread; it ends when the node drops this.
    pub fn start(observer: Option<Observer>) -> Observers {
        let Some(observer) = observer else {
            return Observers::default();
        };
        let (feed, commands) = sync_channel::<Observed>(BACKLOG);
        let spawned = std::thread::Builder::new()
            .name("uhaha-observer".into())
            .spawn(move || {
                for observed in commands {
                    if let Err(panicked) = contain(|| observer(&observed)) {
                        tracing::error!("the observer {panicked}");
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("no observer: its thread did not start: {e}");
            return Observers::default();
        }
        Observers {
            feed: Some(feed),
            dropped: AtomicU64::new(0),
        }
    }

    /// Whether anyone observes.
    pub fn enabled(&self) -> bool {
        self.feed.is_some()
    }

    /// Hands a processed command to the observer, or counts it lost.
    pub fn deliver(&self, observed: Observed) {
        if let Some(feed) = &self.feed {
            if let Err(TrySendError::Full(_)) = feed.try_send(observed) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Commands lost by a slow observer since start.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(n: u8) -> Observed {
        Observed {
            args: vec![Bytes::from(vec![n])],
            reply: Reply::ok(),
            took: Duration::ZERO,
            addr: SocketAddr::from(([127, 0, 0, 1], 1)),
            conn: 1,
        }
    }

    #[test]
    fn a_stuck_observer_loses_commands_and_holds_up_nothing() {
        let (release, stuck) = std::sync::mpsc::channel::<()>();
        let stuck = std::sync::Mutex::new(stuck);
        let observers = Observers::start(Some(Arc::new(move |_: &Observed| {
            let _ = stuck.lock().unwrap().recv();
        })));
        for n in 0..(BACKLOG + 100) {
            observers.deliver(observed(n as u8));
        }
        assert!(
            observers.dropped_total() >= 99,
            "{}",
            observers.dropped_total()
        );
        drop(release);
    }

    #[test]
    fn secrets_are_redacted() {
        let cmd = ["auth", "s3cret"].map(Bytes::from).to_vec();
        assert_eq!(observed_args(&cmd), ["auth", "(redacted)"]);
        let cmd = ["SET", "k", "v"].map(Bytes::from).to_vec();
        assert_eq!(observed_args(&cmd), cmd);
    }

    #[test]
    fn a_panicking_observer_goes_on_observing() {
        let (seen, heard) = std::sync::mpsc::channel();
        let observers = Observers::start(Some(Arc::new(move |o: &Observed| {
            assert!(o.args()[0][0] != 0, "the observer was told to panic");
            seen.send(o.args()[0][0]).unwrap();
        })));
        observers.deliver(observed(0));
        observers.deliver(observed(7));
        assert_eq!(heard.recv_timeout(Duration::from_secs(10)).unwrap(), 7);
    }
}
