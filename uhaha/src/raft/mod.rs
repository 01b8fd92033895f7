//! Raft: the type configuration, the log store, the state machine, the peer
//! network, and the two paths into them (the proposer for writes, the read
//! barrier for linearizable reads).
//!
//! openraft's types stay inside this module, so that upgrading the engine
//! touches nothing else.

// openraft's storage traits fix the error type, large as it is.
#![allow(clippy::result_large_err)]

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
pub use log_store::LogStore;
pub use membership::{Cluster, MembershipError};
pub use proposer::{Batch, Proposer};
pub use read_barrier::ReadBarrier;
pub use state_machine::{Applied, StateMachineStore, TICK};

use bytes::Bytes;
use std::io::Cursor;

/// A node's id in the cluster (uhaha's `-n`).
pub type NodeId = u64;

/// What the cluster stores about a node: the address that clients and peers
/// reach it at.
pub type Node = openraft::BasicNode;

openraft::declare_raft_types!(
    /// The Raft types of every uhaha node: a log entry carries a [`Batch`] of
    /// commands and yields one reply per command.
    pub TypeConfig:
        D = Batch,
        R = Vec<crate::command::Reply>,
        NodeId = NodeId,
        Node = Node,
        SnapshotData = Cursor<Vec<u8>>,
);

pub type Entry = openraft::Entry<TypeConfig>;
pub type LogId = openraft::LogId<NodeId>;
pub type Vote = openraft::Vote<NodeId>;
pub type Raft = openraft::Raft<TypeConfig>;
pub type StorageResult<T> = Result<T, openraft::StorageError<NodeId>>;

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
        // The default, 200 ms per chunk, fails on any real snapshot.
        install_snapshot_timeout: 10_000,
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
