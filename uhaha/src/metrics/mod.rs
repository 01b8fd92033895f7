//! The node's metrics, served at `GET /metrics` on its port in Prometheus's
//! text format (see [`crate::server::endpoints`]). Names follow etcd's
//! where the meaning is the same (`etcd_server_has_leader` is
//! `uhaha_server_has_leader`).
//!
//! Built on `prometheus-client`, the Prometheus project's own Rust client:
//! four small dependencies and a text encoder, nothing that serves HTTP
//! (the node's port already does), where `metrics-exporter-prometheus`
//! brings its own HTTP server and a dozen crates.
//!
//! Counters and histograms are updated where things happen (the log
//! writer, each command's reply); what Raft and the process already know
//! (indexes, roles, replication, memory) is read at each scrape
//! ([`node::NodeCollector`]).

mod histogram;
mod node;

use crate::command::CommandTable;
use crate::raft::Raft;
use crate::server::clients::Clients;
use histogram::Histogram;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::exponential_buckets;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Instant;

/// The `Content-Type` of what [`Metrics::encode`] returns.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Buckets for durations, from 100 µs to about 26 s.
fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 18)
}

/// Buckets for batch sizes, from 1 to 8192.
fn size_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(1.0, 2.0, 14)
}

/// What the log writer counts.
#[derive(Debug, Clone)]
pub struct WalMetrics {
    /// How long each `fdatasync` of the log took.
    pub fsync: Histogram,
    /// Bytes appended to the log.
    pub bytes: Counter,
    /// Entries appended to the log.
    pub entries: Counter,
    /// Entries in each group written with one write (and one fsync).
    pub entries_per_write: Histogram,
}

/// Unregistered until [`Metrics::new`] registers them; on their own, for a
/// log opened without a node (tests).
impl Default for WalMetrics {
    fn default() -> Self {
        WalMetrics {
            fsync: Histogram::new(duration_buckets()),
            bytes: Counter::default(),
            entries: Counter::default(),
            entries_per_write: Histogram::new(size_buckets()),
        }
    }
}

/// What the proposer counts: writes committed or failed, and how many
/// commands each entry carries.
#[derive(Debug, Clone)]
pub struct ProposalMetrics {
    pub committed: Counter,
    pub failed: Counter,
    pub commands_per_entry: Histogram,
}

/// What the read barrier counts: its rounds (each confirms leadership for
/// every read waiting) and how long each took.
#[derive(Debug, Clone)]
pub struct ReadMetrics {
    pub rounds: Counter,
    pub duration: Histogram,
}

/// What the state machine counts of snapshots.
#[derive(Debug, Clone)]
pub struct SnapshotMetrics {
    pub saved: Counter,
    pub installed: Counter,
    /// How long saving one took, the machine's save and the file.
    pub save_duration: Histogram,
    /// The newest snapshot file's size.
    pub bytes: Gauge,
}

/// What the peer network counts.
#[derive(Debug, Clone)]
pub struct NetworkMetrics {
    /// Connections opened to peers: past one per peer, reconnections.
    pub connections: Counter,
    /// Requests to peers that failed (unreachable, broken, timed out).
    pub failures: Counter,
}

/// Why a connection was refused, for [`Metrics::rejected`].
#[derive(Debug, Clone, Copy)]
pub enum Rejected {
    /// TLS was required and missing, or failed.
    Tls,
    /// A peer without the cluster's secret or certificate.
    Peer,
    /// A client's wrong password.
    Auth,
    /// A request over the protocol's limits, or malformed.
    Protocol,
    /// The program's connect hook said no.
    Hook,
}

impl Rejected {
    fn label(self) -> &'static str {
        match self {
            Rejected::Tls => "tls",
            Rejected::Peer => "peer",
            Rejected::Auth => "auth",
            Rejected::Protocol => "protocol",
            Rejected::Hook => "hook",
        }
    }
}

/// What one command's replies count: how many, whether they were errors,
/// and how long each took from its arrival to its reply.
#[derive(Debug)]
pub struct CommandMetrics {
    ok: Counter,
    error: Counter,
    duration: Histogram,
}

/// A command under way: the position of its spec in the command table
/// (which is where its metrics are) and when it arrived (when the bytes
/// that carried it were read: one clock reading serves a whole pipeline,
/// as clock readings are not cheap on a VM).
pub type Tracked = (usize, Instant);

impl CommandMetrics {
    /// Counts a reply, written at `now`, of a command that arrived at
    /// `started`.
    fn replied(&self, started: Instant, now: Instant, error: bool) {
        self.duration
            .observe(now.saturating_duration_since(started).as_secs_f64());
        if error {
            self.error.inc();
        } else {
            self.ok.inc();
        }
    }
}

/// The node's registry and the handles the hot paths update.
pub struct Metrics {
    registry: Registry,
    /// Each command's handles, in the command table's order, made once so
    /// that counting a reply costs a few atomic adds.
    commands: Vec<CommandMetrics>,
    rejected: Family<[(&'static str, &'static str); 1], Counter>,
    /// Leader changes this node has seen (counted by `raft::changes`).
    pub leader_changes: Counter,
    pub wal: WalMetrics,
    pub proposals: ProposalMetrics,
    pub reads: ReadMetrics,
    pub snapshots: SnapshotMetrics,
    pub network: NetworkMetrics,
}

/// A counter registered under `name`.
fn counter(registry: &mut Registry, name: &str, help: &str) -> Counter {
    let counter = Counter::default();
    registry.register(name, help, counter.clone());
    counter
}

/// A histogram of durations registered under `name`.
fn durations(registry: &mut Registry, name: &str, help: &str) -> Histogram {
    let histogram = Histogram::new(duration_buckets());
    registry.register(name, help, histogram.clone());
    histogram
}

impl Metrics {
    /// The metrics of a node with commands `table`. What Raft and the
    /// clients know is added by [`Metrics::collect_node`] once they exist.
    pub fn new(table: &CommandTable) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(node::ProcessCollector));
        let r = registry.sub_registry_with_prefix("uhaha");
        let leader_changes = counter(
            r,
            "server_leader_changes_seen",
            "Leader changes this node has seen",
        );
        let wal = WalMetrics::default();
        r.register(
            "disk_wal_fsync_duration_seconds",
            "How long each fdatasync of the Raft log took",
            wal.fsync.clone(),
        );
        r.register(
            "disk_wal_write_bytes",
            "Bytes appended to the Raft log",
            wal.bytes.clone(),
        );
        r.register(
            "disk_wal_entries",
            "Entries appended to the Raft log",
            wal.entries.clone(),
        );
        r.register(
            "disk_wal_entries_per_write",
            "Entries appended with each write (group commit) of the Raft log",
            wal.entries_per_write.clone(),
        );
        let commands_per_entry = Histogram::new(size_buckets());
        r.register(
            "server_commands_per_entry",
            "Writes carried by each log entry this node proposed",
            commands_per_entry.clone(),
        );
        let proposals = ProposalMetrics {
            committed: counter(
                r,
                "server_proposals_committed",
                "Writes this node proposed that were committed and applied",
            ),
            failed: counter(
                r,
                "server_proposals_failed",
                "Writes this node proposed that failed (redirected, refused, or stopped midway)",
            ),
            commands_per_entry,
        };
        let reads = ReadMetrics {
            rounds: counter(
                r,
                "server_read_barriers",
                "Leadership confirmations for linearizable reads (one serves every read waiting)",
            ),
            duration: durations(
                r,
                "server_read_barrier_duration_seconds",
                "How long each leadership confirmation took",
            ),
        };
        let bytes = Gauge::default();
        r.register(
            "snapshot_bytes",
            "The size of the newest snapshot file",
            bytes.clone(),
        );
        let snapshots = SnapshotMetrics {
            saved: counter(r, "snapshots_saved", "Snapshots this node saved"),
            installed: counter(
                r,
                "snapshots_installed",
                "Snapshots this node installed from the leader",
            ),
            save_duration: durations(
                r,
                "snapshot_save_duration_seconds",
                "How long saving a snapshot took",
            ),
            bytes,
        };
        let network = NetworkMetrics {
            connections: counter(
                r,
                "network_peer_connections",
                "Connections opened to peers (past one per peer: reconnections)",
            ),
            failures: counter(r, "network_peer_failures", "Requests to peers that failed"),
        };
        let rejected = Family::<[(&'static str, &'static str); 1], Counter>::default();
        r.register(
            "server_rejected_connections",
            "Connections refused, by reason: tls, peer, auth, protocol, hook",
            rejected.clone(),
        );
        let replies = Family::<[(&'static str, &'static str); 2], Counter>::default();
        let durations =
            Family::<[(&'static str, &'static str); 1], Histogram>::new_with_constructor(|| {
                Histogram::new(duration_buckets())
            });
        let commands = table
            .specs()
            .map(|spec| {
                let name = spec.name;
                // One statement each: a family's guard lives to the end of
                // its statement, and the next lookup may need the lock.
                let ok = replies
                    .get_or_create(&[("command", name), ("outcome", "ok")])
                    .clone();
                let error = replies
                    .get_or_create(&[("command", name), ("outcome", "error")])
                    .clone();
                let duration = durations.get_or_create(&[("command", name)]).clone();
                CommandMetrics {
                    ok,
                    error,
                    duration,
                }
            })
            .collect();
        r.register(
            "server_commands",
            "Commands answered, by name and outcome (an error reply or not)",
            replies,
        );
        r.register(
            "server_command_duration_seconds",
            "Time from a command's arrival to its reply, writes through Raft included",
            durations,
        );
        Metrics {
            registry,
            commands,
            rejected,
            leader_changes,
            wal,
            proposals,
            reads,
            snapshots,
            network,
        }
    }

    /// Adds what Raft and the clients know, read at each scrape.
    pub fn collect_node(&mut self, raft: Raft, clients: Arc<Clients>) {
        let collector = node::NodeCollector { raft, clients };
        self.registry
            .sub_registry_with_prefix("uhaha")
            .register_collector(Box::new(collector));
    }

    /// Counts a refused connection.
    pub fn rejected(&self, why: Rejected) {
        self.rejected
            .get_or_create(&[("reason", why.label())])
            .inc();
    }

    /// Counts the reply of the command `tracked`, written at `now`.
    pub fn replied(&self, (at, started): Tracked, now: Instant, error: bool) {
        if let Some(command) = self.commands.get(at) {
            command.replied(started, now, error);
        }
    }

    /// Every metric, in Prometheus's text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}
