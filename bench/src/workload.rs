//! What the clients send: command sets, the read/write mix, and requests
//! encoded once and patched in place.
//!
//! A request is RESP-encoded once, as a template, when the run starts. The
//! only thing that changes from one request to the next is the key, which
//! is written with a fixed number of digits so that the template keeps its
//! length and the key can be overwritten in place: making a request is a
//! `memcpy` and a few digit writes, which keeps the client's share of the
//! two cores small.

use clap::ValueEnum;
use serde::Serialize;
use std::fmt;

/// The commands a target understands for a write and for a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CommandSet {
    /// `TICKET` / `LAST`: the ticket example.
    Ticket,
    /// `INCR bench:counter` / `GET bench:counter`: Redis's own version of
    /// a ticket service, to compare the ticket example with redis-server.
    Counter,
    /// `SET bench:<key> <value>` / `GET bench:<key>` over `--keyspace`
    /// keys with `--value-size` byte values: the kvdb example and Redis.
    Kv,
    /// `WRITE bench:<key> now v=1` / `QUERY bench:<key> -1m now 1`: the
    /// timeseries example, one measurement per key.
    Series,
}

impl CommandSet {
    /// The set a cluster of an example speaks, by the example's name.
    pub fn for_example(example: &str) -> Option<CommandSet> {
        match example {
            "ticket" => Some(CommandSet::Ticket),
            "kvdb" => Some(CommandSet::Kv),
            "timeseries" => Some(CommandSet::Series),
            _ => None,
        }
    }

    /// Whether reads need their keys written first (a GET of a key that
    /// does not exist is cheaper than a real one and would flatter reads).
    pub fn reads_need_fill(self) -> bool {
        matches!(self, CommandSet::Kv | CommandSet::Series)
    }

    fn write_args(self, value: &[u8]) -> Vec<Arg> {
        match self {
            CommandSet::Ticket => vec![lit("TICKET")],
            CommandSet::Counter => vec![lit("INCR"), lit(COUNTER_KEY)],
            CommandSet::Kv => vec![lit("SET"), Arg::Key, Arg::Lit(value.to_vec())],
            CommandSet::Series => vec![lit("WRITE"), Arg::Key, lit("now"), lit("v=1")],
        }
    }

    fn read_args(self) -> Vec<Arg> {
        match self {
            CommandSet::Ticket => vec![lit("LAST")],
            CommandSet::Counter => vec![lit("GET"), lit(COUNTER_KEY)],
            CommandSet::Kv => vec![lit("GET"), Arg::Key],
            CommandSet::Series => {
                vec![lit("QUERY"), Arg::Key, lit("-1m"), lit("now"), lit("1")]
            }
        }
    }
}

/// The name an option value is given by on the command line.
fn value_name(v: &impl ValueEnum) -> String {
    v.to_possible_value()
        .expect("no skipped variants")
        .get_name()
        .to_string()
}

impl fmt::Display for CommandSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// The one key of the counter command set.
const COUNTER_KEY: &str = "bench:counter";
/// Every key starts with this, so a benchmark's keys are easy to tell
/// apart (and never hit kvdb's `key:` test hook).
const KEY_PREFIX: &str = "bench:";

/// Which commands a run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// Only writes.
    Write,
    /// Only reads (of keys written before the warm-up).
    Read,
    /// Reads with probability `--read-ratio`, writes otherwise.
    Mix,
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// A workload for one target: the kind of traffic and the commands that
/// carry it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub commands: CommandSet,
    /// The share of reads, from 0 (writes only) to 1 (reads only).
    pub read_ratio: f64,
    /// How many distinct keys (kv and series command sets).
    pub keyspace: u64,
    /// The size of a written value (kv command set).
    pub value_size: usize,
}

impl Workload {
    /// Whether the keys must be written before the run.
    pub fn needs_fill(&self) -> bool {
        self.read_ratio > 0.0 && self.commands.reads_need_fill()
    }

    /// A generator of this workload's requests for one connection; `seed`
    /// makes connections pick different keys.
    pub fn requests(&self, seed: u64) -> RequestMaker {
        let width = digits(self.keyspace.saturating_sub(1));
        let value = vec![b'x'; self.value_size];
        RequestMaker {
            write: Template::new(&self.commands.write_args(&value), width),
            read: Template::new(&self.commands.read_args(), width),
            // Compared with 53 random bits, so that a ratio of 1 is always
            // a read and 0 never.
            read_below: (self.read_ratio.clamp(0.0, 1.0) * (1u64 << 53) as f64) as u64,
            keyspace: self.keyspace.max(1),
            rng: Rng::new(seed),
            fill: None,
        }
    }

    /// A generator that writes the keys `first, first + step, ...` below
    /// the key space once each, then stops: connection `i` of `n` fills
    /// its own share with `fill(i, n)`.
    pub fn fill(&self, first: u64, step: u64) -> RequestMaker {
        let mut maker = self.requests(first);
        maker.fill = Some(Fill {
            next: first,
            step: step.max(1),
        });
        maker
    }
}

/// One argument of a command template.
#[derive(Debug, Clone)]
enum Arg {
    Lit(Vec<u8>),
    /// `bench:` followed by a fixed-width key number.
    Key,
}

fn lit(s: &str) -> Arg {
    Arg::Lit(s.as_bytes().to_vec())
}

/// A RESP request encoded once, with the byte range of its key number (if
/// it has a key) to overwrite for each request.
#[derive(Debug, Clone)]
struct Template {
    bytes: Vec<u8>,
    /// Where the key's digits start, and how many there are.
    key_digits: Option<(usize, usize)>,
}

impl Template {
    fn new(args: &[Arg], width: usize) -> Template {
        let mut bytes = format!("*{}\r\n", args.len()).into_bytes();
        let mut key_digits = None;
        for arg in args {
            match arg {
                Arg::Lit(a) => push_bulk(&mut bytes, a),
                Arg::Key => {
                    let key = format!("{KEY_PREFIX}{}", "0".repeat(width));
                    push_bulk(&mut bytes, key.as_bytes());
                    // The digits end just before the bulk's CRLF.
                    key_digits = Some((bytes.len() - 2 - width, width));
                }
            }
        }
        Template { bytes, key_digits }
    }

    /// Appends this request for `key` to `out`.
    fn push(&self, out: &mut Vec<u8>, key: u64) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        if let Some((at, width)) = self.key_digits {
            write_digits(&mut out[start + at..start + at + width], key);
        }
    }
}

fn push_bulk(out: &mut Vec<u8>, arg: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
    out.extend_from_slice(arg);
    out.extend_from_slice(b"\r\n");
}

/// Writes `n` in decimal into `digits`, zero-padded on the left (`n` must
/// fit).
fn write_digits(digits: &mut [u8], mut n: u64) {
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// How many decimal digits `n` has (at least one).
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |l| l as usize + 1)
}

/// The fill phase's position: the next key, and the stride between keys.
#[derive(Debug, Clone)]
struct Fill {
    next: u64,
    step: u64,
}

/// Makes one connection's requests, appending them to a batch buffer.
#[derive(Debug, Clone)]
pub struct RequestMaker {
    write: Template,
    read: Template,
    read_below: u64,
    keyspace: u64,
    rng: Rng,
    fill: Option<Fill>,
}

impl RequestMaker {
    /// Appends one request to `out`; `false` (and nothing appended) when a
    /// fill has written all of its keys.
    pub fn push(&mut self, out: &mut Vec<u8>) -> bool {
        if let Some(fill) = &mut self.fill {
            if fill.next >= self.keyspace {
                return false;
            }
            self.write.push(out, fill.next);
            fill.next += fill.step;
            return true;
        }
        let key = self.rng.next() % self.keyspace;
        // 53 random bits decide read or write.
        if (self.rng.next() >> 11) < self.read_below {
            self.read.push(out, key);
        } else {
            self.write.push(out, key);
        }
        true
    }
}

/// xorshift64*: a few cycles per number and no dependency; the quality is
/// plenty for picking keys and read/write.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Spread small seeds (connection numbers) and avoid the zero state.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scanner::{scan, Scan};

    fn workload(kind: WorkloadKind, commands: CommandSet, read_ratio: f64) -> Workload {
        Workload {
            kind,
            commands,
            read_ratio,
            keyspace: 1000,
            value_size: 3,
        }
    }

    /// Splits a buffer of requests into their argument lists (requests are
    /// RESP arrays of bulk strings, which the reply scanner can delimit).
    fn commands(buf: &[u8]) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < buf.len() {
            let Ok(Scan::Reply { len, .. }) = scan(&buf[pos..]) else {
                panic!("not RESP: {:?}", String::from_utf8_lossy(&buf[pos..]));
            };
            let text = String::from_utf8_lossy(&buf[pos..pos + len]).into_owned();
            let parts: Vec<&str> = text.split("\r\n").collect();
            out.push(
                parts[2..]
                    .iter()
                    .step_by(2)
                    .map(|s| s.to_string())
                    .collect(),
            );
            pos += len;
        }
        out
    }

    #[test]
    fn ticket_writes_are_plain_resp() {
        let mut maker = workload(WorkloadKind::Write, CommandSet::Ticket, 0.0).requests(1);
        let mut buf = Vec::new();
        assert!(maker.push(&mut buf));
        assert_eq!(buf, b"*1\r\n$6\r\nTICKET\r\n");
    }

    #[test]
    fn kv_keys_are_fixed_width_and_in_range() {
        let mut maker = workload(WorkloadKind::Write, CommandSet::Kv, 0.0).requests(7);
        let mut buf = Vec::new();
        for _ in 0..200 {
            maker.push(&mut buf);
        }
        for cmd in commands(&buf) {
            assert_eq!(cmd[0], "SET");
            assert_eq!(cmd[1].len(), "bench:".len() + 3, "{cmd:?}");
            let n: u64 = cmd[1]["bench:".len()..].parse().unwrap();
            assert!(n < 1000);
            assert_eq!(cmd[2], "xxx");
        }
    }

    #[test]
    fn mix_follows_the_read_ratio() {
        let mut maker = workload(WorkloadKind::Mix, CommandSet::Kv, 0.8).requests(3);
        let mut buf = Vec::new();
        for _ in 0..10_000 {
            maker.push(&mut buf);
        }
        let reads = commands(&buf).iter().filter(|c| c[0] == "GET").count();
        assert!((7_500..8_500).contains(&reads), "{reads} reads of 10000");
    }

    #[test]
    fn ratios_zero_and_one_are_exact() {
        for (ratio, expect) in [(0.0, "INCR"), (1.0, "GET")] {
            let mut maker = workload(WorkloadKind::Mix, CommandSet::Counter, ratio).requests(5);
            let mut buf = Vec::new();
            for _ in 0..1000 {
                maker.push(&mut buf);
            }
            assert!(commands(&buf).iter().all(|c| c[0] == expect));
        }
    }

    #[test]
    fn fill_writes_each_key_of_its_share_once() {
        let w = Workload {
            keyspace: 10,
            ..workload(WorkloadKind::Read, CommandSet::Kv, 1.0)
        };
        assert!(w.needs_fill());
        let mut keys = Vec::new();
        for conn in 0..3 {
            let mut maker = w.fill(conn, 3);
            let mut buf = Vec::new();
            while maker.push(&mut buf) {}
            keys.extend(commands(&buf).into_iter().map(|c| {
                assert_eq!(c[0], "SET");
                c[1].clone()
            }));
        }
        keys.sort();
        let expect: Vec<String> = (0..10).map(|k| format!("bench:{k}")).collect();
        assert_eq!(keys, expect);
    }

    #[test]
    fn only_keyed_reads_need_a_fill() {
        assert!(!workload(WorkloadKind::Read, CommandSet::Ticket, 1.0).needs_fill());
        assert!(!workload(WorkloadKind::Write, CommandSet::Kv, 0.0).needs_fill());
        assert!(workload(WorkloadKind::Read, CommandSet::Series, 1.0).needs_fill());
    }

    #[test]
    fn digit_counts() {
        assert_eq!(digits(0), 1);
        assert_eq!(digits(9), 1);
        assert_eq!(digits(10), 2);
        assert_eq!(digits(9999), 4);
        let mut d = [0u8; 4];
        write_digits(&mut d, 42);
        assert_eq!(&d, b"0042");
    }
}
