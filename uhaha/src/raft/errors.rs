//! How Raft's refusals become Redis replies: the Redis Cluster conventions
//! that cluster-aware clients understand.
//!
//! - not the leader, leader known: `MOVED 0 <leader-addr>`;
//! - not the leader, none known: `CLUSTERDOWN ...`;
//! - shut down: `CLUSTERDOWN raft is shut down`.

use super::{Node, NodeId};
use crate::command::Reply;
use openraft::error::{CheckIsLeaderError, ClientWriteError, ForwardToLeader, RaftError};

/// The reply for a request that must go to the leader.
pub fn forward_reply(forward: &ForwardToLeader<NodeId, Node>) -> Reply {
    match &forward.leader_node {
        Some(node) => Reply::Error(format!("MOVED 0 {}", node.addr)),
        None => Reply::Error("CLUSTERDOWN node is not the leader".into()),
    }
}

fn fatal_reply(fatal: &openraft::error::Fatal<NodeId>) -> Reply {
    Reply::Error(format!("CLUSTERDOWN raft is shut down: {fatal}"))
}

/// The reply for a failed write.
pub fn client_write_error_reply(e: &RaftError<NodeId, ClientWriteError<NodeId, Node>>) -> Reply {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => forward_reply(f),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => Reply::error(e),
        RaftError::Fatal(f) => fatal_reply(f),
    }
}

/// The reply for a read whose leadership check failed.
pub fn read_error_reply(e: &RaftError<NodeId, CheckIsLeaderError<NodeId, Node>>) -> Reply {
    match e {
        RaftError::APIError(CheckIsLeaderError::ForwardToLeader(f)) => forward_reply(f),
        RaftError::APIError(CheckIsLeaderError::QuorumNotEnough(q)) => {
            Reply::Error(format!("CLUSTERDOWN {q}"))
        }
        RaftError::Fatal(f) => fatal_reply(f),
    }
}
