//! Whether a node is ready to serve, as `GET /readyz` and the `HEALTH`
//! command report it: its log is loaded, it is not stopping, Raft runs, it
//! belongs to its cluster and it knows a leader. A load balancer or a
//! Kubernetes readiness probe then sends clients only to nodes that can
//! answer them (a follower passes writes on to the leader it knows).

use crate::raft::{metrics, Raft};
use std::sync::atomic::{AtomicU8, Ordering};

/// Why a node is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// It is still loading its log or joining its cluster.
    #[error("starting: the log is not loaded yet")]
    Starting,
    /// It is stopping (`SHUTDOWN`, SIGTERM).
    #[error("stopping")]
    Stopping,
    /// Its Raft has stopped: it was removed from the cluster, or its log
    /// could not be written.
    #[error("raft has stopped")]
    RaftStopped,
    /// The cluster's membership does not name it.
    #[error("not a member of the cluster")]
    NotMember,
    /// No leader is known: the cluster has no quorum, or is electing.
    #[error("no leader known")]
    NoLeader,
}

/// Where a node is in its life: starting, serving or stopping.
#[derive(Debug, Default)]
pub struct Lifecycle(AtomicU8);

const STARTING: u8 = 0;
const SERVING: u8 = 1;
const STOPPING: u8 = 2;

impl Lifecycle {
    /// The node has loaded its log and is ready for commands.
    pub fn serving(&self) {
        let _ = self
            .0
            .compare_exchange(STARTING, SERVING, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The node has begun to stop: probes say so before it stops serving.
    pub fn stopping(&self) {
        self.0.store(STOPPING, Ordering::SeqCst);
    }

    /// Whether the node is ready, or why not.
    pub fn readiness(&self, raft: &Raft) -> Result<(), NotReady> {
        match self.0.load(Ordering::SeqCst) {
            STARTING => return Err(NotReady::Starting),
            STOPPING => return Err(NotReady::Stopping),
            _ => {}
        }
        let m = metrics(raft);
        if m.running_state.is_err() {
            return Err(NotReady::RaftStopped);
        }
        let membership = m.membership_config.membership();
        if !membership.nodes().any(|(id, _)| *id == m.id) {
            return Err(NotReady::NotMember);
        }
        if m.current_leader.is_none() {
            return Err(NotReady::NoLeader);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stopping_node_never_serves_again() {
        let lifecycle = Lifecycle::default();
        assert_eq!(lifecycle.0.load(Ordering::SeqCst), STARTING);
        lifecycle.serving();
        assert_eq!(lifecycle.0.load(Ordering::SeqCst), SERVING);
        lifecycle.stopping();
        lifecycle.serving();
        assert_eq!(lifecycle.0.load(Ordering::SeqCst), STOPPING);
    }
}
