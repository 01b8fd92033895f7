//! How Raft's refusals become Redis replies: the Redis Cluster conventions
//! that cluster-aware clients understand.
//!
//! - not the leader, leader known: `MOVED 0 <leader-addr>` (or, with
//!   `--try-errors`, `TRY <leader-addr>`);
//! - not the leader, none known: `CLUSTERDOWN ...`;
//! - Raft stopped before it took the command: `CLUSTERDOWN raft is shut
//!   down`; after it took it: `SHUTDOWN` (the outcome is unknown);
//! - the leader lost its leadership with the command's entry in its log
//!   only: `UNCERTAIN` (the outcome is unknown too).
//!
//! The codes and what each promises are in [`crate::ErrorCode`].

use super::TypeConfig;
use crate::command::{ErrorCode, Reply};
use openraft::error::{ClientWriteError, Fatal, ForwardToLeader, LinearizableReadError, RaftError};

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
    pub fn forward(self, forward: &ForwardToLeader<TypeConfig>) -> Reply {
        match &forward.leader_node {
            Some(node) => self.to(&node.addr),
            None => not_the_leader(),
        }
    }

    /// The reply for a failed write or membership change.
    pub fn write_error(self, e: &RaftError<TypeConfig, ClientWriteError<TypeConfig>>) -> Reply {
        match e {
            RaftError::APIError(e) => self.refused_write(e),
            RaftError::Fatal(f) => fatal_reply(f),
        }
    }

    /// The reply for a write that Raft refused.
    pub fn refused_write(self, e: &ClientWriteError<TypeConfig>) -> Reply {
        match e {
            ClientWriteError::ForwardToLeader(f) => self.forward(f),
            ClientWriteError::LogEntryDiscarded(_) => ErrorCode::Uncertain.reply(
                "the leader changed while the command was under way; it may or may not have run",
            ),
            other => Reply::error(other),
        }
    }

    /// The reply for a read whose leadership check failed.
    pub fn read_error(self, e: &RaftError<TypeConfig, LinearizableReadError<TypeConfig>>) -> Reply {
        match e {
            RaftError::APIError(LinearizableReadError::ForwardToLeader(f)) => self.forward(f),
            RaftError::APIError(LinearizableReadError::QuorumNotEnough(q)) => {
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

pub fn fatal_reply(fatal: &Fatal<TypeConfig>) -> Reply {
    ErrorCode::ClusterDown.reply(format_args!("raft is shut down: {fatal}"))
}
