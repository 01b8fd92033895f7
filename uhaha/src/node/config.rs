//! A node's config: what uhaha's command line sets, or a program in code,
//! and the one validation both go through.

use crate::error::ConfigError;
use crate::raft::Redirect;
use crate::server::resp::Limits;
use std::path::PathBuf;
use std::time::Duration;

/// How a node runs: what uhaha's command line sets, or what a program that
/// embeds a node sets in code.
///
/// ```
/// let config = uhaha::Config {
///     addr: "127.0.0.1:0".into(),
///     data_dir: std::env::temp_dir().join("my-service"),
///     ..uhaha::Config::default()
/// };
/// assert_eq!(config.id, 1);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    /// This node's id in the cluster (`-n`).
    pub id: u64,
    /// The address to listen on (`-a`); port 0 picks a free one, and
    /// `:port` listens on every interface, as in uhaha.
    pub addr: String,
    /// The address the cluster stores and redirects clients to
    /// (`--advertise`; `:port` is this machine). When `None`, the bound
    /// address, or `127.0.0.1:port` for a node bound to every interface.
    pub advertise: Option<String>,
    /// The root of the data directories (`-d`); this node's files go in
    /// `<data_dir>/<name>/<id>/`.
    pub data_dir: PathBuf,
    /// A member of the cluster to join on first start (`-j`; `:port` is
    /// this machine).
    pub join: Option<String>,
    /// Join as a non-voter (`--nonvoter`).
    pub nonvoter: bool,
    /// The secret clients must send with `AUTH` and peers must prove
    /// (`--auth`).
    pub auth: Option<String>,
    /// Skip the fsync of each log append (`--nosync`).
    pub nosync: bool,
    /// Serve reads from local state without the read barrier (`--openreads`).
    pub openreads: bool,
    /// How to send clients to the leader (`--try-errors` for `TRY`).
    pub redirect: Redirect,
    /// How often the leader ticks (`--tick`), for machines with a
    /// `#[tick]` method.
    pub tick: Duration,
    /// Snapshot every this many commands (`--snapshot-logs`) instead of
    /// by size.
    pub snapshot_logs: Option<u64>,
    /// Snapshot when the log since the last snapshot has grown to this
    /// percentage of that snapshot's size (`--snapshot-growth`)...
    pub snapshot_growth: u64,
    /// ...and to at least this many bytes (`--snapshot-min-log`).
    pub snapshot_min_log: u64,
    /// How many snapshot files to keep (`--snapshot-keep`).
    pub snapshot_keep: usize,
    /// A snapshot file to start a new single-node cluster from
    /// (`--restore`).
    pub restore: Option<PathBuf>,
    /// Sizes a request may not exceed.
    pub limits: Limits,
    /// How the node logs (`-l`): with a level, starting the node installs
    /// uhaha's logger to stderr at that level (`RUST_LOG` refines it),
    /// unless the program installed a `tracing` subscriber of its own,
    /// which then decides. `None`: the node installs nothing (an embedded
    /// node logs through its program's subscriber, if any).
    pub log: Option<LogLevel>,
    /// The node's TLS certificate chain and key (`--tls-cert`,
    /// `--tls-key`): every connection on the port then speaks TLS.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The CA that peers' certificates must chain to (`--tls-ca`); the
    /// node's own certificate file when `None`.
    pub tls_ca: Option<PathBuf>,
    /// How long a new connection may take to send its first request (its
    /// TLS handshake included), or a peer to prove itself.
    pub handshake_timeout: Duration,
}

impl Default for Config {
    /// uhaha's defaults, as the command line has them: node 1 on
    /// `127.0.0.1:11001`, data in `./data`.
    fn default() -> Config {
        Config {
            id: 1,
            addr: "127.0.0.1:11001".into(),
            advertise: None,
            data_dir: PathBuf::from("data"),
            join: None,
            nonvoter: false,
            auth: None,
            nosync: false,
            openreads: false,
            redirect: Redirect::Moved,
            tick: Duration::from_millis(200),
            snapshot_logs: None,
            snapshot_growth: 100,
            snapshot_min_log: 8 << 20,
            snapshot_keep: 2,
            restore: None,
            limits: Limits::default(),
            log: None,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// uhaha's log levels (`-l`), from the most said to nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogLevel {
    /// Everything, openraft's debug lines included (`debug`).
    Debug,
    /// The node's and the service's debug lines, and openraft's account of
    /// its steps (`verb`, `verbose`): Go uhaha's level between the two.
    Verb,
    /// What happens to the node (`info`, `notice`): the default.
    Info,
    /// Warnings and errors (`warn`, `warning`).
    Warn,
    /// Nothing (`silent`, `quiet`).
    Silent,
}

impl std::str::FromStr for LogLevel {
    type Err = String;

    /// Go uhaha's names for the levels.
    fn from_str(name: &str) -> Result<LogLevel, String> {
        Ok(match name {
            "debug" => LogLevel::Debug,
            "verbose" | "verb" => LogLevel::Verb,
            "notice" | "info" => LogLevel::Info,
            "warning" | "warn" => LogLevel::Warn,
            "quiet" | "silent" => LogLevel::Silent,
            other => return Err(format!("unknown log level {other:?}")),
        })
    }
}

impl Config {
    /// When the node snapshots.
    pub(crate) fn snapshot_policy(&self) -> crate::raft::snapshot_policy::Policy {
        use crate::raft::snapshot_policy::Policy;
        match self.snapshot_logs {
            Some(n) => Policy::Commands(n),
            None => Policy::Growth {
                percent: self.snapshot_growth,
                min_log: self.snapshot_min_log,
            },
        }
    }

    /// Checks that a node can run with this config. Starting a node checks
    /// it first, so a config made in code gets the same checks as the
    /// command line's flags (which clap checks too, to point at the flag).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::TlsHalf);
        }
        if self.tls_ca.is_some() && self.tls_cert.is_none() {
            return Err(ConfigError::TlsCaWithoutCert);
        }
        if self.restore.is_some() && self.join.is_some() {
            return Err(ConfigError::RestoreWithJoin);
        }
        if self.tick.is_zero() {
            return Err(ConfigError::ZeroTick);
        }
        if self.snapshot_logs == Some(0) {
            return Err(ConfigError::ZeroSnapshotLogs);
        }
        if self.snapshot_growth == 0 {
            return Err(ConfigError::ZeroSnapshotGrowth);
        }
        if self.snapshot_keep == 0 {
            return Err(ConfigError::ZeroSnapshotKeep);
        }
        if self.handshake_timeout.is_zero() {
            return Err(ConfigError::ZeroHandshakeTimeout);
        }
        self.limits.validate()?;
        if let Some(addr) = &self.advertise {
            let port = addr.rsplit_once(':').map(|(_, port)| port.parse::<u16>());
            if !matches!(port, Some(Ok(_))) {
                return Err(ConfigError::BadAdvertise(addr.clone()));
            }
        }
        Ok(())
    }
}
