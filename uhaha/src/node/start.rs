//! A node: the pieces wired together. Opens the log, starts Raft, bootstraps
//! a single-node cluster on first start (or joins one with `-j`), starts the
//! proposer and the read barrier, listens, and reports readiness. The public
//! face of this is [`crate::NodeBuilder`] and [`crate::Node`].

use super::address;
use super::config::Config;
use crate::command::{CommandTable, Commands};
use crate::error::StartError;
use crate::metrics::Metrics;
use crate::pubsub::Hub;
use crate::raft::snapshot_file::SnapshotDir;
use crate::raft::{
    self, Backup, Cluster, LogStore, Network, Proposer, Raft, ReadBarrier, StateMachineStore,
};
use crate::server::clients::Clients;
use crate::server::endpoints::Endpoints;
use crate::server::health::Lifecycle;
use crate::server::observers::Observers;
use crate::server::{Extensions, Server, Settings};
use crate::tasks::Tasks;
use crate::tls::Tls;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Starts a node of machine `M` and returns once it is ready for commands.
pub(crate) async fn start<M: Commands>(
    config: Config,
    extensions: Extensions,
    on_data_dir: Option<DataDirHook>,
) -> Result<Arc<Server<M>>, StartError> {
    config.validate()?;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            Some(Tls::load(cert, key, config.tls_ca.as_deref()).map_err(StartError::Tls)?)
        }
        _ => None,
    };
    let dir = config.data_dir.join(M::NAME).join(config.id.to_string());
    let restore = match &config.restore {
        Some(path) => Some(read_backup::<M>(path, &dir)?),
        None => None,
    };
    std::fs::create_dir_all(&dir).map_err(|source| StartError::Io {
        action: "create",
        path: dir.clone(),
        source,
    })?;
    if let Some(hook) = on_data_dir {
        hook(&dir);
    }
    let old_log = dir.join("raft.redb");
    if old_log.exists() {
        return Err(StartError::OldLog(old_log));
    }
    let table = Arc::new(CommandTable::new(M::COMMANDS));
    let mut metrics = Metrics::new(&table);
    let log = LogStore::open(&dir.join("log"), !config.nosync, metrics.wal.clone())?;
    let snapshots = Arc::new(
        SnapshotDir::open(&dir.join("snapshots"), config.snapshot_keep)
            .map_err(StartError::Storage)?,
    );
    let pubsub = Arc::new(Hub::default());
    let machine = StateMachineStore::<M>::open(
        table.clone(),
        snapshots.clone(),
        metrics.snapshots.clone(),
        pubsub.clone(),
    )
    .map_err(StartError::Storage)?;
    let restored = restore.is_some();
    if let Some(backup) = restore {
        machine.restore(backup).await;
        tracing::info!("recovery successful");
    }
    let state = machine.state();
    let progress = machine.progress();
    let snapshot_failures = machine.build_failures();

    let listen_error = |source| StartError::Listen {
        addr: config.addr.clone(),
        source,
    };
    let listener = TcpListener::bind(address::bind(&config.addr))
        .await
        .map_err(listen_error)?;
    let bound = listener.local_addr().map_err(listen_error)?;
    tracing::info!("server listening at {bound}");
    let my_addr = address::advertised(config.advertise.as_deref(), bound);

    let secret = config.auth.as_deref().unwrap_or("");
    let network = Network::new(config.id, secret, tls.clone(), metrics.network.clone());
    let raft = Raft::new(
        config.id,
        raft::raft_config(M::NAME),
        network.clone(),
        log,
        machine.into(),
    )
    .await
    .map_err(|e| StartError::Raft(format!("start: {e}")))?;
    let redirect = config.redirect;
    let tasks = Tasks::default();
    let lifecycle = Arc::new(Lifecycle::default());
    let clients = Arc::new(Clients::new(bound));
    let (proposals, reads) = (metrics.proposals.clone(), metrics.reads.clone());
    metrics.collect_node(raft.clone(), clients.clone());
    let metrics = Arc::new(metrics);
    let mut extensions = extensions;
    let observers = Arc::new(Observers::start(extensions.observer.take()));
    let endpoints = Endpoints {
        lifecycle: lifecycle.clone(),
        raft: raft.clone(),
        metrics: metrics.clone(),
        auth: config.auth.clone(),
    };
    extensions.services.insert(0, Arc::new(endpoints));
    let shared = Arc::new(Server {
        proposer: Proposer::start(raft.clone(), redirect, proposals, &tasks),
        reads: ReadBarrier::start(raft.clone(), redirect, reads, &tasks),
        cluster: Cluster::new(raft.clone(), network, redirect, snapshot_failures, &tasks),
        raft: raft.clone(),
        settings: Settings {
            auth: config.auth.clone(),
            openreads: config.openreads,
            nosync: config.nosync,
            limits: config.limits,
            handshake_timeout: config.handshake_timeout,
        },
        table,
        state,
        snapshots,
        tls,
        next_client_id: AtomicU64::new(1),
        shutdown: Notify::new(),
        clients,
        extensions,
        monitors: Arc::default(),
        observers,
        pubsub,
        my_addr: my_addr.clone(),
        tasks,
        lifecycle,
        metrics,
    });
    raft::changes::watch(
        raft.clone(),
        shared.metrics.leader_changes.clone(),
        &shared.tasks,
    );
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
    if let Err(e) = join_or_bootstrap(&shared, &config, &my_addr, restored).await {
        shared.stop().await;
        return Err(e);
    }
    let tasks = &shared.tasks;
    if M::HAS_TICK {
        raft::ticker::start(raft.clone(), shared.proposer.clone(), config.tick, tasks);
    }
    raft::snapshot_policy::start(raft.clone(), progress, config.snapshot_policy(), tasks);
    shared.lifecycle.serving();
    tracing::info!("logs loaded: ready for commands");
    Ok(shared)
}

/// Makes the node a member (joining, bootstrapping, or as it was) and waits
/// until it has loaded its log.
async fn join_or_bootstrap<M: Commands>(
    shared: &Server<M>,
    config: &Config,
    my_addr: &str,
    restored: bool,
) -> Result<(), StartError> {
    let raft = &shared.raft;
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
        crate::node::join::join(&address::dial(join), config, shared.tls.as_ref(), my_addr)
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

/// What [`crate::NodeBuilder::on_data_dir`] runs.
pub type DataDirHook = Box<dyn FnOnce(&std::path::Path) + Send>;

/// Reads a `--restore` file (ours, or Go uhaha's), which only a brand-new
/// node may use. It is read whole before the node's directory is made, so
/// that a bad file leaves nothing behind.
fn read_backup<M: Commands>(
    path: &std::path::Path,
    dir: &std::path::Path,
) -> Result<Backup<M>, StartError> {
    if dir.exists() {
        return Err(StartError::RestoreOverExisting(dir.to_path_buf()));
    }
    tracing::info!("restoring backup: path={}", path.display());
    let file = std::fs::File::open(path).map_err(|source| StartError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    StateMachineStore::<M>::read_backup(std::io::BufReader::with_capacity(1 << 16, file))
        .map_err(|e| StartError::Storage(format!("{}: {e}", path.display())))
}

/// Waits until this node is a member, a leader is known, and this node has
/// applied every entry it had when it started and the membership it knows.
/// A lone voter elects itself at once rather than after an election
/// timeout.
async fn wait_until_loaded(raft: &Raft) -> Result<(), String> {
    let metrics = raft::metrics(raft);
    let target = metrics.last_log_index;
    let voters: Vec<_> = metrics.membership_config.membership().voter_ids().collect();
    if voters == [metrics.id] && metrics.current_leader.is_none() {
        let _ = raft.trigger().elect(false).await;
    }
    raft.wait(Some(Duration::from_secs(3600)))
        .metrics(
            |m| {
                let member = m.membership_config.membership().get_node(&m.id).is_some();
                let applied = m.last_applied.map(|l| l.index);
                let membership = m.membership_config.log_id().map(|l| l.index);
                member && m.current_leader.is_some() && applied >= target.max(membership)
            },
            "member, leader known and log applied",
        )
        .await
        .map(|_| ())
        .map_err(|e| format!("waiting for the log to load: {e}"))
}
