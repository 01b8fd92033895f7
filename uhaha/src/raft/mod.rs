//! Raft: the type configuration, the log store, the state machine, the peer
//! network, and the two paths into them (the proposer for writes, the read
//! barrier for linearizable reads).
//!
//! openraft's types stay inside this module, so that upgrading the engine
//! touches nothing else.

// openraft's storage traits fix the error type, large as it is.
#![allow(clippy::result_large_err)]

pub mod changes;
mod errors;
mod log_store;
mod membership;
mod network;
mod peer;
mod proposer;
mod read_barrier;
pub mod snapshot_file;
pub mod snapshot_policy;
mod state_machine;
pub mod ticker;

pub use errors::{stopped_midway, Redirect};
pub use log_store::{LogError, LogStore};
pub use membership::{Cluster, MembershipError};
use proposer::Deliver;
#[cfg(test)]
pub use proposer::Proposal;
pub use proposer::{Batch, Proposer};
pub use read_barrier::ReadBarrier;
pub use state_machine::{Applied, Backup, StateMachine, StateMachineStore, TICK};

use bytes::Bytes;

/// A node's id in the cluster (uhaha's `-n`).
pub type NodeId = u64;

/// What the cluster stores about a node: the address that clients and peers
/// reach it at.
pub type Node = openraft::impls::BasicNode;

/// A leader's identity: its term and its id (openraft's "advanced" leader
/// id, the one its 0.9 used by default, so that log ids and snapshot
/// headers keep their layout).
type LeaderId = openraft::impls::leader_id_adv::LeaderId<u64, NodeId>;

/// The Raft types of every uhaha node: a log entry carries a [`Batch`] of
/// commands and yields one reply per command, delivered by [`Deliver`].
#[derive(Debug, Clone, Copy, Default, Eq, PartialEq, Ord, PartialOrd)]
pub struct TypeConfig;

impl openraft::RaftTypeConfig for TypeConfig {
    type D = Batch;
    type R = Vec<crate::command::Reply>;
    type NodeId = NodeId;
    type Node = Node;
    type Term = u64;
    type LeaderId = LeaderId;
    type Vote = Vote;
    type Payload = Payload;
    type Entry = Entry;
    type AsyncRuntime = openraft_rt_tokio::TokioRuntime;
    type Responder<T>
        = Deliver<T>
    where
        T: Send + 'static;
    type Batch<T>
        = openraft::impls::InlineBatch<T>
    where
        T: Send + 'static;
    type ErrorSource = openraft::impls::BoxedErrorSource;
}

/// What an entry carries: a [`Batch`], or Raft's own blank and membership
/// entries.
type Payload = openraft::EntryPayload<Batch, NodeId, Node>;
pub type Entry = openraft::Entry<LeaderId, Payload>;
pub type LogId = openraft::LogId<LeaderId>;
pub type Vote = openraft::impls::Vote<LeaderId>;
pub type Raft = openraft::Raft<TypeConfig, StateMachine>;
pub type StoredMembership = openraft::StoredMembership<LeaderId, NodeId, Node>;
pub type SnapshotMeta = openraft::SnapshotMeta<LeaderId, NodeId, Node>;

/// A snapshot's data as it travels: the snapshot file's bytes.
pub type SnapshotData = Vec<u8>;
/// A snapshot as openraft handles it: its position and the file's bytes.
pub type Snapshot = openraft::Snapshot<LeaderId, NodeId, Node, SnapshotData>;

/// What openraft reports of this node now.
pub fn metrics(raft: &Raft) -> openraft::RaftMetrics<TypeConfig> {
    use openraft::async_runtime::WatchReceiver;
    raft.metrics().borrow_watched().clone()
}

#[cfg(test)]
/// The log id of `index` written in `term` by leader `node`.
pub fn log_id(term: u64, node: NodeId, index: u64) -> LogId {
    LogId::new(
        LeaderId {
            term,
            node_id: node,
        },
        index,
    )
}

/// One command as it travels through the log: its name (upper-case) first,
/// then its arguments.
pub type Command = Vec<Bytes>;

pub use network::Network;
pub use peer::{check_handshake, serve_peer, stop_removed, MAGIC};

/// The Raft settings of a uhaha node. Snapshots are asked for by
/// [`snapshot_policy`], which counts commands and bytes, not entries.
pub fn raft_config(cluster_name: &str) -> std::sync::Arc<openraft::Config> {
    let config = openraft::Config {
        cluster_name: cluster_name.to_string(),
        heartbeat_interval: 100,
        election_timeout_min: 500,
        election_timeout_max: 1000,
        // A snapshot travels as one message: give it time.
        install_snapshot_timeout: 60_000,
        // A restarted leader does not resume its term: it learns the commit
        // index from a new election like any restarted node (openraft
        // resumes by default, and would serve reads from the commit index
        // it restored, which is saved lazily and may be older than writes
        // it acknowledged: openraft#1511, uhaha-chaos seed 1, `kill`).
        enable_leader_restore: Some(false),
        snapshot_policy: openraft::SnapshotPolicy::Never,
        // Keep some log behind a snapshot, so that a follower a little
        // behind catches up from the log rather than a whole snapshot.
        // An entry carries many commands under load, so a hundred entries
        // is plenty.
        max_in_snapshot_log_to_keep: 100,
        ..Default::default()
    };
    std::sync::Arc::new(config.validate().expect("the raft settings are valid"))
}
