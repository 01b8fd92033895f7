//! How Raft's refusals become Redis replies: the Redis Cluster conventions
//! that cluster-aware clients understand.
//!
//! - not the leader, leader known: `MOVED 0 <leader-addr>` (or, with
//!   `--try-errors`, `TRY <leader-addr>`);
//! - not the leader, none known: `CLUSTERDOWN ...`;
//! - shut down: `CLUSTERDOWN raft is shut down`.

use super::{Node, NodeId};
use crate::command::Reply;
use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};

/// How a node tells a client to go to the leader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
            Redirect::Moved => Reply::Error(format!("MOVED 0 {addr}")),
            Redirect::Try => Reply::Error(format!("TRY {addr}")),
        }
    }

    /// The reply for a request that must go to the leader.
    pub fn forward(self, forward: &ForwardToLeader<NodeId, Node>) -> Reply {
        match &forward.leader_node {
            Some(node) => self.to(&node.addr),
            None => Reply::Error("CLUSTERDOWN node is not the leader".into()),
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
                Reply::Error(format!("CLUSTERDOWN {q}"))
            }
            RaftError::Fatal(f) => fatal_reply(f),
        }
    }
}

fn fatal_reply(fatal: &openraft::error::Fatal<NodeId>) -> Reply {
    Reply::Error(format!("CLUSTERDOWN raft is shut down: {fatal}"))
}
