//! The server side of client connections: the listener that tells TLS,
//! Raft peers, custom services and Redis clients apart on the one port; the
//! request framing; the connection loop; its reply queue, which proposes a
//! connection's writes together; the session
//! (authentication, protocol, name); dispatch of each command; the bodies
//! of the built-in commands (`INFO`, `CLIENT`, `RAFT`, `CLUSTER`);
//! `MONITOR`; hooks and custom services.

pub mod clients;
pub mod cluster_commands;
pub mod conn;
pub mod connection;
pub mod dispatch;
pub mod endpoints;
pub mod health;
pub mod hijack;
pub mod hooks;
pub mod info;
pub mod intermediates;
pub mod listener;
pub mod monitor;
pub mod observers;
pub mod reply_queue;
pub mod resp;
pub mod service;
pub mod session;

use crate::command::{CommandTable, Commands};
use crate::raft::snapshot_file::SnapshotDir;
use crate::raft::{Applied, Cluster, Proposer, Raft, ReadBarrier};
use crate::tasks::Tasks;
use crate::tls::Tls;
use clients::Clients;
use hooks::Hooks;
use monitor::Monitors;
use observers::{Observer, Observers};
use resp::Limits;
use service::{LocalNode, Service};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::sync::{Notify, RwLock};

/// What of the node's config the server side uses.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The secret clients must send with `AUTH` and peers must prove.
    pub auth: Option<String>,
    /// Reads are served from local state, without the read barrier.
    pub openreads: bool,
    /// Log appends are not fsynced (shown by `INFO`).
    pub nosync: bool,
    /// Sizes a request may not exceed.
    pub limits: Limits,
    /// How long a new connection may take to send its first request.
    pub handshake_timeout: Duration,
}

/// What a program adds to a node besides its config.
#[derive(Clone, Default)]
pub struct Extensions {
    pub hooks: Hooks,
    pub services: Vec<Arc<dyn Service>>,
    /// The program's build id, shown after its version.
    pub build_id: Option<String>,
    /// The program's observer of every command.
    pub observer: Option<Observer>,
}

/// The server side of a node: what its connections share. The node builds
/// it (see `crate::node::start`) and hands it to the listener.
pub struct Server<M> {
    pub settings: Settings,
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
    pub monitors: Arc<Monitors>,
    /// The program's observer of every command, if it has one.
    pub observers: Arc<Observers>,
    /// Who subscribed to what, on this node.
    pub pubsub: Arc<crate::pubsub::Hub>,
    /// The address this node is known by in the cluster.
    pub my_addr: String,
    /// Every task of the node, and the signal that stops them.
    pub tasks: Tasks,
    /// Starting, serving or stopping: what `/readyz` and `HEALTH` report.
    pub lifecycle: Arc<health::Lifecycle>,
    /// What `/metrics` serves.
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl<M: Commands> Server<M> {
    /// Whether [`Server::stop`] has begun.
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

    /// `INFO`'s view of the node.
    fn info(&self) -> info::Info<'_> {
        info::Info {
            name: M::NAME,
            version: M::VERSION,
            cluster: &self.cluster,
            snapshots: &self.snapshots,
            monitors: &self.monitors,
            observers: &self.observers,
            pubsub: &self.pubsub,
            settings: &self.settings,
        }
    }

    /// The `RAFT` and `CLUSTER` commands' view of the node.
    fn cluster_commands(&self) -> cluster_commands::ClusterCommands<'_> {
        cluster_commands::ClusterCommands {
            cluster: &self.cluster,
            snapshots: &self.snapshots,
        }
    }

    /// How code in this process reaches this node without a socket: each
    /// dial serves a new in-memory connection like a client's.
    pub fn local_node(self: &Arc<Self>) -> LocalNode {
        let node: Weak<Server<M>> = Arc::downgrade(self);
        LocalNode {
            addr: self.my_addr.clone(),
            tls: self.tls.clone(),
            dialer: Arc::new(move || {
                let (ours, theirs) = tokio::io::duplex(64 << 10);
                if let Some(shared) = node.upgrade() {
                    let serving = shared.clone();
                    shared.tasks.spawn(async move {
                        let stream = Box::new(theirs);
                        listener::serve_redis(&serving, stream, Default::default(), None).await;
                    });
                }
                Box::new(ours)
            }),
        }
    }
}
