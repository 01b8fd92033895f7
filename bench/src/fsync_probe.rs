//! How fast the disk under the data directory makes a small write durable.
//!
//! Durable write throughput of a raft service (and of Redis with
//! `appendfsync always`) is bounded by fsyncs per second times the commands
//! batched into each. The same machine's disk can be ten times faster or
//! slower from one hour to the next (shared cloud volumes), so every report
//! carries the rate measured right before its run: figures from different
//! runs can then be compared per fsync.

use serde::Serialize;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// The result of a probe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FsyncRate {
    /// How many write + fsync pairs ran.
    pub fsyncs: u64,
    pub fsyncs_per_sec: f64,
    /// The mean time of one write + fsync, in microseconds.
    pub mean_latency_us: f64,
}

/// Appends 64 bytes and fsyncs, in a loop, for about `duration`, in a
/// scratch file in `dir` (so on the filesystem the nodes write to); the
/// file is removed afterwards.
pub fn probe(dir: &Path, duration: Duration) -> io::Result<FsyncRate> {
    let path = dir.join(".uhaha-bench-fsync-probe");
    let result = run(&path, duration);
    let _ = fs::remove_file(&path);
    result
}

fn run(path: &Path, duration: Duration) -> io::Result<FsyncRate> {
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    let record = [b'.'; 64];
    let start = Instant::now();
    let mut fsyncs = 0u64;
    // At least one, so that a tiny duration still gives a figure.
    while fsyncs == 0 || start.elapsed() < duration {
        file.write_all(&record)?;
        file.sync_all()?;
        fsyncs += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Ok(FsyncRate {
        fsyncs,
        fsyncs_per_sec: fsyncs as f64 / elapsed,
        mean_latency_us: elapsed * 1e6 / fsyncs as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_counts_and_cleans_up() {
        let dir = uhaha_tests::data_dir();
        let rate = probe(dir.path(), Duration::from_millis(50)).unwrap();
        assert!(rate.fsyncs >= 1);
        assert!(rate.fsyncs_per_sec > 0.0 && rate.mean_latency_us > 0.0);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            0,
            "scratch file left"
        );
    }
}
