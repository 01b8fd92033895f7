//! When a node snapshots: every `--snapshot-logs` commands, as in uhaha,
//! where each command is one log entry.
//!
//! Here an entry carries every write that waited for it (hundreds under
//! load), so openraft's own policy, which counts entries, would let the log
//! grow by millions of commands between snapshots: disk, memory and restart
//! time would follow the history instead of the live data. This task counts
//! applied commands and asks openraft for a snapshot when enough have
//! accumulated; openraft's entry count still applies as well.

use super::Raft;
use crate::tasks::Tasks;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the count is looked at.
const CHECK_EVERY: Duration = Duration::from_millis(100);

/// Starts the snapshot trigger of node `raft`, whose state machine counts
/// the commands it applies in `unsnapshotted`.
pub fn start(raft: Raft, unsnapshotted: Arc<AtomicU64>, every: u64, tasks: &Tasks) {
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(CHECK_EVERY);
        loop {
            interval.tick().await;
            if raft.metrics().borrow().running_state.is_err() {
                return;
            }
            // The builder resets the count when it starts; resetting here
            // too keeps a slow build from being asked for again and again.
            if unsnapshotted.load(Ordering::Relaxed) >= every {
                unsnapshotted.store(0, Ordering::Relaxed);
                let _ = raft.trigger().snapshot().await;
            }
        }
    });
}
