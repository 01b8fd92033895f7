//! What the clients saw: one record per operation, with the times it was
//! called and answered, written to `history.jsonl` and fed to the checkers.

use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::Path;

/// One operation as a client saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// The client that issued it (a lane in the timeline).
    pub client: u32,
    /// The key it touched (`""` for the counter).
    pub key: String,
    /// What it asked and, for reads, what it got.
    pub kind: Kind,
    /// Nanoseconds since the run started, taken before the request was sent.
    pub call: u64,
    /// Nanoseconds since the run started, taken after the reply was read;
    /// `None` when no reply came.
    pub ret: Option<u64>,
    /// Whether it took effect.
    pub outcome: Outcome,
    /// The node it was sent to last (after redirects), for the record.
    pub node: String,
    /// The error reply or failure, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
}

/// What an operation asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A register write of a unique value.
    Write { value: String },
    /// A register read; `value` is what it returned (`None` for nil or an
    /// operation without a reply).
    Read { value: Option<String> },
    /// A counter increment; `value` is the number it returned.
    Incr { value: Option<i64> },
}

/// Whether an operation took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Answered with a value: it took effect.
    Ok,
    /// Certainly did not take effect (a redirect it could not follow, a
    /// refused connection).
    Fail,
    /// May have taken effect at any time after its call, or never (a
    /// timeout, a broken connection, an error reply).
    Unknown,
}

impl Op {
    /// Whether it is a write.
    pub fn is_write(&self) -> bool {
        matches!(self.kind, Kind::Write { .. })
    }
}

/// Writes the history as JSON lines, one operation per line.
pub fn write_jsonl(path: &Path, ops: &[Op]) -> io::Result<()> {
    let mut out = io::BufWriter::new(std::fs::File::create(path)?);
    for op in ops {
        serde_json::to_writer(&mut out, op)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Reads a history written by [`write_jsonl`].
pub fn read_jsonl(path: &Path) -> io::Result<Vec<Op>> {
    std::fs::read_to_string(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(io::Error::other))
        .collect()
}

/// Counts of outcomes, for the verdict line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub ok: usize,
    pub failed: usize,
    pub unknown: usize,
}

impl Counts {
    pub fn of(ops: &[Op]) -> Counts {
        let mut counts = Counts::default();
        for op in ops {
            match op.outcome {
                Outcome::Ok => counts.ok += 1,
                Outcome::Fail => counts.failed += 1,
                Outcome::Unknown => counts.unknown += 1,
            }
        }
        counts
    }
}
