//! When a node snapshots.
//!
//! By size, by default, as Redis rewrites its append-only file
//! (`auto-aof-rewrite-percentage`, `auto-aof-rewrite-min-size`): when the
//! commands applied since the last snapshot add up to `growth` percent of
//! that snapshot's size, and to at least `min_log` bytes. A snapshot then
//! writes about as many bytes as the log it replaces, so the bytes written
//! grow with the commands, not with the commands times the state (which a
//! fixed count of commands gives: a state that doubles is rewritten as
//! often, at twice the cost). The floor keeps a small state from being
//! rewritten every few commands and still compacts its log.
//!
//! `--snapshot-logs n` snapshots every `n` commands instead, as uhaha does
//! (there each command is one log entry; here an entry carries every write
//! that waited for it, hundreds under load, so commands are counted, not
//! entries).
//!
//! The state machine counts what it applies in [`Progress`]; a task looks
//! at it a few times a second and asks openraft for a snapshot when the
//! policy says so.

use super::{Command, Proposer, Raft};
use crate::tasks::Tasks;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the progress is looked at.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// About what an entry adds to the log besides its commands.
const ENTRY_OVERHEAD: u64 = 48;

/// When to snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// When the log since the last snapshot reaches `percent` of that
    /// snapshot's size, and at least `min_log` bytes.
    Growth { percent: u64, min_log: u64 },
    /// Every this many commands.
    Commands(u64),
}

impl Policy {
    /// Whether a snapshot is due after `progress`.
    fn due(self, progress: &Progress) -> bool {
        match self {
            Policy::Commands(n) => progress.commands.load(Ordering::Relaxed) >= n,
            Policy::Growth { percent, min_log } => {
                let last = progress.last_size.load(Ordering::Relaxed);
                let threshold = (last.saturating_mul(percent) / 100).max(min_log);
                progress.bytes.load(Ordering::Relaxed) >= threshold
            }
        }
    }
}

/// What was applied since the last snapshot began, and that snapshot's
/// size: shared by the state machine, which counts, and the trigger.
#[derive(Debug, Default)]
pub struct Progress {
    commands: AtomicU64,
    /// The commands' size as the log stores them (arguments and their
    /// lengths).
    bytes: AtomicU64,
    last_size: AtomicU64,
}

impl Progress {
    /// Counts one applied entry of `commands`, and the entry's own share of
    /// the log (its position, stamp, seed and framing): entries of few or
    /// no commands, such as ticks, still make the log grow.
    pub fn applied(&self, commands: &[Command]) {
        // Each command as the proposer counts it, and its own length.
        let size: usize = commands.iter().map(|c| Proposer::size(c) + 8).sum();
        let size = size as u64 + ENTRY_OVERHEAD;
        self.commands
            .fetch_add(commands.len() as u64, Ordering::Relaxed);
        self.bytes.fetch_add(size, Ordering::Relaxed);
    }

    /// Starts counting afresh: a snapshot has begun (or was installed).
    pub fn restart(&self) {
        self.commands.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }

    /// Records the size of the newest snapshot.
    pub fn snapshot_size(&self, size: u64) {
        self.last_size.store(size, Ordering::Relaxed);
    }
}

/// Starts the snapshot trigger of node `raft`, whose state machine counts
/// what it applies in `progress`.
pub fn start(raft: Raft, progress: Arc<Progress>, policy: Policy, tasks: &Tasks) {
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(CHECK_EVERY);
        loop {
            interval.tick().await;
            if super::metrics(&raft).running_state.is_err() {
                return;
            }
            // The builder restarts the count when it begins; restarting
            // here too keeps a slow build from being asked for again and
            // again.
            if policy.due(&progress) {
                progress.restart();
                let _ = raft.trigger().snapshot().await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn set(value_len: usize) -> Vec<Bytes> {
        vec![
            Bytes::from_static(b"SET"),
            Bytes::from_static(b"key"),
            Bytes::from(vec![b'x'; value_len]),
        ]
    }

    #[test]
    fn growth_follows_the_size_of_the_last_snapshot() {
        let policy = Policy::Growth {
            percent: 100,
            min_log: 1000,
        };
        let progress = Progress::default();
        progress.snapshot_size(10_000);
        for _ in 0..9 {
            progress.applied(&[set(1000)]);
        }
        assert!(
            !policy.due(&progress),
            "9 KB of log behind a 10 KB snapshot"
        );
        progress.applied(&[set(1000)]);
        assert!(
            policy.due(&progress),
            "10 KB of log behind a 10 KB snapshot"
        );
        // Twice the state: twice the log before the next one.
        progress.restart();
        progress.snapshot_size(20_000);
        for _ in 0..10 {
            progress.applied(&[set(1000)]);
        }
        assert!(!policy.due(&progress));
    }

    #[test]
    fn growth_has_a_floor_for_small_states() {
        let policy = Policy::Growth {
            percent: 100,
            min_log: 1000,
        };
        let progress = Progress::default();
        progress.snapshot_size(10);
        progress.applied(&[set(100)]);
        assert!(
            !policy.due(&progress),
            "a small state is not rewritten per command"
        );
        for _ in 0..10 {
            progress.applied(&[set(100)]);
        }
        assert!(policy.due(&progress), "but its log is still compacted");
    }

    #[test]
    fn commands_counts_commands_whatever_their_size() {
        let progress = Progress::default();
        progress.applied(&[set(1_000_000)]);
        assert!(!Policy::Commands(2).due(&progress));
        progress.applied(&[set(0)]);
        assert!(Policy::Commands(2).due(&progress));
    }
}
