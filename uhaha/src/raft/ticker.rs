//! The ticker: on the leader, a `TICK` write every interval, which runs the
//! machine's `#[tick]` method on every node and moves the machine clock
//! forward while the cluster is idle. Ticks share entries with client
//! writes, so they cost nothing under load. Only machines with a `#[tick]`
//! method have a ticker: for the others the machine clock moves with the
//! entries that commands make, and an idle cluster writes nothing.

use super::{Proposer, Raft, TICK};
use crate::tasks::Tasks;
use bytes::Bytes;
use std::time::Duration;

/// Starts the ticker of node `raft`, one of the node's `tasks`.
pub fn start(raft: Raft, proposer: Proposer, every: Duration, tasks: &Tasks) {
    tasks.spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if raft.is_leader() {
                // Wait for the tick to apply, so that ticks never pile up.
                let reply = proposer.propose(vec![vec![Bytes::from_static(TICK)]]).await;
                let _ = reply.await;
            }
            if super::metrics(&raft).running_state.is_err() {
                return;
            }
        }
    });
}
