//! How Raft's refusals become Redis replies: the Redis Cluster conventions
//! that cluster-aware clients understand.
//!
//! - not the leader, leader known: `MOVED 0 <leader-addr>` (or, with
//!   `--try-errors`, `TRY <leader-addr>`);
//! - not the leader, none known: `CLUSTERDOWN ...`;
//! - Raft stopped before it took the command: `CLUSTERDOWN raft is shut
//!   down`; after it took it: `SHUTDOWN` (the outcome is unknown).
//!
//! The codes and what each promises are in [`crate::ErrorCode`].

use super::{Node, NodeId};
use crate::command::{ErrorCode, Reply};
use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};

/// How a node tells a client to go to the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Redirect {
    /// `MOVED 0 <addr>`, which Redis Cluster clients follow.
    #[default]
    Moved,
    /// `TRY <addr>`, uhaha's `--try-errors`.
    Try,
}

impl Redirect {
    /// The reply that sends a client to `addr`.
    pub fn to(self, addr: &str) -> Reply {
        match self {
            Redirect::Moved => ErrorCode::Moved.reply(format_args!("0 {addr}")),
            Redirect::Try => ErrorCode::Try.reply(addr),
        }
    }

    /// The reply for a request that must go to the leader.
    pub fn forward(self, forward: &ForwardToLeader<NodeId, Node>) -> Reply {
        match &forward.leader_node {
            Some(node) => self.to(&node.addr),
            None => not_the_leader(),
        }
    }

    /// The reply for a failed write or membership change.
    pub fn write_error(self, e: &RaftError<NodeId, ClientWriteError<NodeId, Node>>) -> Reply {
        match e {
            RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => self.forward(f),
            RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => Reply::error(e),
            RaftError::Fatal(f) => fatal_reply(f),
        }
    }

    /// The reply for a read whose leadership check failed.
    pub fn read_error(self, e: &RaftError<NodeId, CheckIsLeaderError<NodeId, Node>>) -> Reply {
        match e {
            RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => self.forward(f),
            RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
                ErrorCode::ClusterDown.reply(q)
            }
            RaftError::Fatal(f) => fatal_reply(f),
        }
    }
}

/// The reply on a node that knows no leader.
pub fn not_the_leader() -> Reply {
    ErrorCode::ClusterDown.reply("node is not the leader")
}

/// The reply for a command that the node refused because it is stopping:
/// the command did not run.
pub fn stopping() -> Reply {
    ErrorCode::ClusterDown.reply("node is shutting down")
}

/// The reply for a command whose outcome the node can no longer learn: it
/// stopped after Raft took the command.
pub fn stopped_midway() -> Reply {
    ErrorCode::Shutdown
        .reply("node stopped while the command was under way; it may or may not have run")
}

fn fatal_reply(fatal: &openraft::error::Fatal<NodeId>) -> Reply {
    ErrorCode::ClusterDown.reply(format_args!("raft is shut down: {fatal}"))
}
