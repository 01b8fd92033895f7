//! A node: the pieces wired together. Opens the log, starts Raft, bootstraps
//! a single-node cluster on first start (or joins one with `-j`), starts the
//! proposer and the read barrier, listens, and reports readiness. The public
//! face of this is [`crate::NodeBuilder`] and [`crate::Node`].

use crate::command::{CommandTable, Commands};
use crate::error::{ConfigError, StartError};
use crate::raft::snapshot_file::SnapshotDir;
use crate::raft::{
    self, Applied, Cluster, LogStore, Network, Proposer, Raft, ReadBarrier, Redirect,
    StateMachineStore,
};
use crate::server::clients::Clients;
use crate::server::hooks::Hooks;
use crate::server::monitor::Monitors;
use crate::server::resp::Limits;
use crate::server::service::{LocalNode, Service};
use crate::tasks::Tasks;
use crate::tls::Tls;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, RwLock};

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
    /// The address to listen on (`-a`); port 0 picks a free one.
    pub addr: String,
    /// The address the cluster stores and redirects clients to
    /// (`--advertise`); the bound address when `None`.
    pub advertise: Option<String>,
    /// The root of the data directories (`-d`); this node's files go in
    /// `<data_dir>/<name>/<id>/`.
    pub data_dir: PathBuf,
    /// A member of the cluster to join on first start (`-j`).
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
    /// How often the leader ticks (`--tick`).
    pub tick: Duration,
    /// Take a snapshot every this many log entries (`--snapshot-logs`).
    pub snapshot_logs: u64,
    /// A snapshot file to start a new single-node cluster from
    /// (`--restore`).
    pub restore: Option<PathBuf>,
    /// Sizes a request may not exceed.
    pub limits: Limits,
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
            snapshot_logs: 10_000,
            restore: None,
            limits: Limits::default(),
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl Config {
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
        if self.snapshot_logs == 0 {
            return Err(ConfigError::ZeroSnapshotLogs);
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

/// What a program adds to a node besides its config.
#[derive(Clone, Default)]
pub(crate) struct Extensions {
    pub hooks: Hooks,
    pub services: Vec<Arc<dyn Service>>,
}

/// What every connection of a node shares.
pub struct Shared<M> {
    pub config: Config,
    pub table: Arc<CommandTable>,
    pub state: Arc<RwLock<Applied<M>>>,
    pub snapshots: Arc<SnapshotDir>,
    pub raft: Raft,
    pub cluster: Cluster,
    pub proposer: Proposer,
    pub reads: ReadBarrier,
    /// The node's TLS settings, when it uses TLS.
    pub tls: Option<Tls>,
    pub next_client_id: AtomicU64,
    /// Notified when a client sends `SHUTDOWN`.
    pub shutdown: Notify,
    /// The node's connected clients and statistics.
    pub clients: Arc<Clients>,
    /// Hooks and services the program registered.
    pub extensions: Extensions,
    /// The feed of `MONITOR`.
    pub monitors: Monitors,
    /// The address this node is known by in the cluster.
    pub my_addr: String,
    /// Every task of the node, and the signal that stops them.
    pub tasks: Tasks,
}

impl<M: Commands> Shared<M> {
    /// Whether [`Shared::stop`] has begun.
    pub fn is_stopped(&self) -> bool {
        self.tasks.is_stopped()
    }

    /// Stops the listener, every connection and background task, then
    /// Raft, and waits until every task of the node has ended.
    pub async fn stop(&self) {
        self.tasks.stop();
        let _ = self.raft.shutdown().await;
        self.tasks.wait().await;
    }

    /// How code in this process reaches this node without a socket: each
    /// dial serves a new in-memory connection like a client's.
    pub fn local_node(self: &Arc<Self>) -> LocalNode {
        let node: Weak<Shared<M>> = Arc::downgrade(self);
        LocalNode {
            addr: self.my_addr.clone(),
            tls: self.tls.clone(),
            dialer: Arc::new(move || {
                let (ours, theirs) = tokio::io::duplex(64 << 10);
                if let Some(shared) = node.upgrade() {
                    let serving = shared.clone();
                    shared.tasks.spawn(async move {
                        let mut stream = theirs;
                        crate::server::listener::serve_redis(
                            &serving,
                            &mut stream,
                            Default::default(),
                            None,
                        )
                        .await;
                    });
                }
                Box::new(ours)
            }),
        }
    }
}

/// Starts a node of machine `M` and returns once it is ready for commands.
pub(crate) async fn start<M: Commands>(
    config: Config,
    extensions: Extensions,
) -> Result<Arc<Shared<M>>, StartError> {
    config.validate()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            Some(Tls::load(cert, key, config.tls_ca.as_deref()).map_err(StartError::Tls)?)
        }
        _ => None,
    };
    let dir = config.data_dir.join(M::NAME).join(config.id.to_string());
    let restore = match &config.restore {
        Some(path) => Some(read_restore_file(path, &dir)?),
        None => None,
    };
    std::fs::create_dir_all(&dir).map_err(|source| StartError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;
    let log =
        LogStore::open(&dir.join("raft.redb"), !config.nosync).map_err(StartError::Storage)?;
    let table = Arc::new(CommandTable::new(M::COMMANDS));
    let snapshots =
        Arc::new(SnapshotDir::open(&dir.join("snapshots")).map_err(StartError::Storage)?);
    let machine = StateMachineStore::<M>::open(table.clone(), snapshots.clone())
        .map_err(StartError::Storage)?;
    if let Some(bytes) = &restore {
        machine.restore(bytes).await.map_err(StartError::Storage)?;
        tracing::info!("recovery successful");
    }
    let state = machine.state();
    let unsnapshotted = machine.unsnapshotted();
    let snapshot_failures = machine.build_failures();

    let listen_error = |source| StartError::Listen {
        addr: config.addr.clone(),
        source,
    };
    let listener = TcpListener::bind(&config.addr)
        .await
        .map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    tracing::info!("server listening at {bound}");
    let my_addr = config
        .advertise
        .clone()
        .unwrap_or_else(|| bound.to_string());

    let secret = config.auth.as_deref().unwrap_or("");
    let network = Network::new(config.id, secret, tls.clone());
    let raft = Raft::new(
        config.id,
        raft::raft_config(M::NAME, config.snapshot_logs),
        network.clone(),
        log,
        machine,
    )
    .await
    .map_err(|e| StartError::Raft(format!("start: {e}")))?;
    let redirect = config.redirect;
    let tasks = Tasks::default();
    let shared = Arc::new(Shared {
        proposer: Proposer::start(raft.clone(), redirect, &tasks),
        reads: ReadBarrier::start(raft.clone(), redirect, &tasks),
        cluster: Cluster::new(raft.clone(), network, redirect, snapshot_failures),
        raft: raft.clone(),
        config,
        table,
        state,
        snapshots,
        tls,
        next_client_id: AtomicU64::new(1),
        shutdown: Notify::new(),
        clients: Arc::new(Clients::new(bound)),
        extensions,
        monitors: Monitors::default(),
        my_addr: my_addr.clone(),
        tasks,
    });
    if let Some(hook) = &shared.extensions.hooks.role {
        crate::server::hooks::watch_role(raft.clone(), hook.clone(), &shared.tasks);
    }
    // Serve peers and clients before joining: the leader replicates to a
    // joining node before it answers the join.
    shared
        .tasks
        .spawn(crate::server::listener::run(listener, shared.clone()));

    // A node that fails to start must not keep its port or its log open:
    // the program may try again with the same config.
    if let Err(e) = join_or_bootstrap(&shared, &my_addr, restore.is_some()).await {
        shared.stop().await;
        return Err(e);
    }
    let tasks = &shared.tasks;
    raft::ticker::start(
        raft.clone(),
        shared.proposer.clone(),
        shared.config.tick,
        tasks,
    );
    raft::snapshot_policy::start(
        raft.clone(),
        unsnapshotted,
        shared.config.snapshot_logs,
        tasks,
    );
    tracing::info!("logs loaded: ready for commands");
    tasks.spawn(leave_when_removed(raft, tasks.clone()));
    Ok(shared)
}

/// Makes the node a member (joining, bootstrapping, or as it was) and waits
/// until it has loaded its log.
async fn join_or_bootstrap<M: Commands>(
    shared: &Shared<M>,
    my_addr: &str,
    restored: bool,
) -> Result<(), StartError> {
    let (config, raft) = (&shared.config, &shared.raft);
    let raft_error = |e: String| StartError::Raft(e);
    if raft
        .is_initialized()
        .await
        .map_err(|e| raft_error(e.to_string()))?
    {
        if config.join.is_some() {
            tracing::warn!("ignoring join request because server already belongs to a cluster");
        }
    } else if let Some(join) = &config.join {
        crate::node::join::join(join, config, shared.tls.as_ref(), my_addr)
            .await
            .map_err(StartError::Join)?;
    } else {
        tracing::info!("bootstrapping new cluster");
        raft.initialize(Cluster::bootstrap_members(config.id, my_addr.to_string()))
            .await
            .map_err(|e| raft_error(format!("bootstrap: {e}")))?;
    }
    wait_until_loaded(raft).await.map_err(raft_error)?;
    if restored {
        // Joiners must start from the restored state, never from the empty
        // log under it: snapshot it and drop that log at once.
        shared.cluster.snapshot_now().await.map_err(raft_error)?;
        shared
            .cluster
            .purge_to_snapshot()
            .await
            .map_err(raft_error)?;
    }
    Ok(())
}

/// Reads a `--restore` file, which only a brand-new node may use.
fn read_restore_file(path: &std::path::Path, dir: &std::path::Path) -> Result<Vec<u8>, StartError> {
    if dir.exists() {
        return Err(StartError::RestoreOverExisting(dir.to_path_buf()));
    }
    tracing::info!("restoring backup: path={}", path.display());
    let bytes = std::fs::read(path).map_err(|source| StartError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    crate::raft::snapshot_file::decode(&bytes)
        .map_err(|e| StartError::Storage(format!("{}: {e}", path.display())))?;
    Ok(bytes)
}

/// Waits until this node is a member, a leader is known, and this node has
/// applied every entry it had when it started. A lone voter elects itself at
/// once rather than after an election timeout.
async fn wait_until_loaded(raft: &Raft) -> Result<(), String> {
    let metrics = raft.metrics().borrow().clone();
    let target = metrics.last_log_index.unwrap_or(0);
    let voters: Vec<_> = metrics.membership_config.membership().voter_ids().collect();
    if voters == [metrics.id] && metrics.current_leader.is_none() {
        let _ = raft.trigger().elect().await;
    }
    raft.wait(Some(Duration::from_secs(3600)))
        .metrics(
            |m| {
                let member = m.membership_config.membership().get_node(&m.id).is_some();
                member
                    && m.current_leader.is_some()
                    && m.last_applied.map_or(0, |l| l.index) >= target
            },
            "member, leader known and log applied",
        )
        .await
        .map(|_| ())
        .map_err(|e| format!("waiting for the log to load: {e}"))
}

/// Stops Raft on this node once a committed membership no longer holds it,
/// so that a removed node neither votes nor campaigns.
async fn leave_when_removed(raft: Raft, tasks: Tasks) {
    let mut metrics = raft.metrics();
    loop {
        let removed = {
            let m = metrics.borrow_and_update();
            let membership = m.membership_config.membership();
            m.membership_config.log_id().is_some() && membership.get_node(&m.id).is_none()
        };
        if removed {
            raft::stop_removed(&raft, &tasks);
            return;
        }
        if metrics.changed().await.is_err() {
            return;
        }
    }
}
