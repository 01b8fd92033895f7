//! The errors a program that runs a node can act on: one enum per boundary,
//! each a `std::error::Error` that keeps its source.
//!
//! - [`ConfigError`]: a [`crate::Config`] that no node can run with; found
//!   before anything starts, by the builder and the command line alike.
//! - [`StartError`]: why [`crate::NodeBuilder::start`] gave up; what it
//!   started is stopped again, so the program may try again.
//!
//! The Rust client's errors are [`crate::ClientError`].

use std::path::PathBuf;

/// A [`crate::Config`] that no node can run with.
///
/// ```
/// let config = uhaha::Config {
///     tick: std::time::Duration::ZERO,
///     ..uhaha::Config::default()
/// };
/// assert_eq!(config.validate(), Err(uhaha::ConfigError::ZeroTick));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A TLS certificate without its key, or a key without its certificate.
    #[error("TLS needs both a certificate and its key (--tls-cert and --tls-key)")]
    TlsHalf,
    /// A CA for peers' certificates on a node without TLS.
    #[error("a TLS CA (--tls-ca) needs a certificate and a key (--tls-cert, --tls-key)")]
    TlsCaWithoutCert,
    /// `restore` and `join` together: a restored node starts a new cluster.
    #[error("a restored node (--restore) starts a new cluster and cannot join one (-j)")]
    RestoreWithJoin,
    /// The leader cannot tick every 0 ms.
    #[error("the tick interval (--tick) must be at least 1 ms")]
    ZeroTick,
    /// A snapshot every 0 commands.
    #[error("--snapshot-logs must be at least 1")]
    ZeroSnapshotLogs,
    /// A snapshot whenever anything at all was applied.
    #[error("--snapshot-growth must be at least 1 (percent)")]
    ZeroSnapshotGrowth,
    /// No snapshot kept, not even the one the log was compacted to.
    #[error("--snapshot-keep must be at least 1")]
    ZeroSnapshotKeep,
    /// No time at all for a connection's first request.
    #[error("the handshake timeout (--handshake-timeout) must be at least 1 s")]
    ZeroHandshakeTimeout,
    /// A request size limit of 0.
    #[error("the request limit {0} must be at least 1")]
    ZeroLimit(&'static str),
    /// An advertised address that is not `host:port`.
    #[error("the advertised address (--advertise) {0:?} is not host:port")]
    BadAdvertise(String),
}

/// Why a machine's state could not be saved to, or restored from, a
/// snapshot: the error of the serde codec, or whatever error the machine's
/// own [`crate::Snapshot`] impl returns (any `std::error::Error`, or a
/// message: `Err("a bad count".into())`).
pub type SnapshotError = Box<dyn std::error::Error + Send + Sync>;

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The config is invalid; nothing was started.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file or directory of the node could not be used.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `read`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// `restore` on a node that already has a data directory.
    #[error("--restore needs a new node, but its data directory already exists: {}", .0.display())]
    RestoreOverExisting(PathBuf),
    /// The log could not be opened: it is damaged, or a file of it could
    /// not be used.
    #[error("log: {0}")]
    Log(#[from] crate::raft::LogError),
    /// The data directory holds a log in the format of an earlier version
    /// (one redb file), which this version does not read.
    #[error(
        "{} is a log written by an earlier version of uhaha-rs, which this one does not read; \
         start the node with a new data directory, joining the cluster or restoring a snapshot \
         (RAFT SNAPSHOT READ, then --restore)",
        .0.display()
    )]
    OldLog(PathBuf),
    /// A snapshot or a file to restore could not be read.
    #[error("storage: {0}")]
    Storage(String),
    /// The node could not listen on its address.
    #[error("listen on {addr}: {source}")]
    Listen {
        /// The address in the config.
        addr: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The TLS certificate, key or CA could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// Joining the cluster failed.
    #[error("join: {0}")]
    Join(String),
    /// Raft could not start, bootstrap or load the log.
    #[error("raft: {0}")]
    Raft(String),
}
