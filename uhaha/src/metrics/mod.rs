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

mod node;

use crate::command::CommandTable;
use crate::raft::Raft;
use crate::server::clients::Clients;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

/// The `Content-Type` of what [`Metrics::encode`] returns.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Buckets for durations, from 100 µs to about 26 s.
fn duration_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.0001, 2.0, 18)
}

/// What the log writer counts. Made before the log opens, registered with
/// the rest once the node has them all.
#[derive(Debug, Clone)]
pub struct WalMetrics {
    /// How long each `fdatasync` of the log took.
    pub fsync: Histogram,
    /// Bytes appended to the log.
    pub bytes: Counter,
    /// Entries appended to the log.
    pub entries: Counter,
}

impl Default for WalMetrics {
    fn default() -> Self {
        WalMetrics {
            fsync: Histogram::new(duration_buckets()),
            bytes: Counter::default(),
            entries: Counter::default(),
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

/// A command under way: its metrics and when it arrived.
pub type Tracked = (Arc<CommandMetrics>, Instant);

impl CommandMetrics {
    /// Counts a reply of a command that arrived at `started`.
    pub fn replied(&self, started: Instant, error: bool) {
        self.duration.observe(started.elapsed().as_secs_f64());
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
    /// Each command's handles by name, made once so that counting a reply
    /// costs a map lookup and a few atomic adds.
    commands: HashMap<&'static str, Arc<CommandMetrics>>,
    /// Leader changes this node has seen (see [`node::watch_leader`]).
    pub leader_changes: Counter,
}

impl Metrics {
    /// The metrics of a node with commands `table`, log metrics `wal`,
    /// Raft `raft` and clients `clients`.
    pub fn new(table: &CommandTable, wal: &WalMetrics, raft: Raft, clients: Arc<Clients>) -> Self {
        let mut root = Registry::default();
        root.register_collector(Box::new(node::ProcessCollector));
        let registry = root.sub_registry_with_prefix("uhaha");
        let leader_changes = Counter::default();
        registry.register(
            "server_leader_changes_seen",
            "Leader changes this node has seen",
            leader_changes.clone(),
        );
        registry.register(
            "disk_wal_fsync_duration_seconds",
            "How long each fdatasync of the Raft log took",
            wal.fsync.clone(),
        );
        registry.register(
            "disk_wal_write_bytes",
            "Bytes appended to the Raft log",
            wal.bytes.clone(),
        );
        registry.register(
            "disk_wal_entries",
            "Entries appended to the Raft log",
            wal.entries.clone(),
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
                let handles = CommandMetrics {
                    ok,
                    error,
                    duration,
                };
                (name, Arc::new(handles))
            })
            .collect();
        registry.register(
            "server_commands",
            "Commands answered, by name and outcome (an error reply or not)",
            replies,
        );
        registry.register(
            "server_command_duration_seconds",
            "Time from a command's arrival to its reply, writes through Raft included",
            durations,
        );
        registry.register_collector(Box::new(node::NodeCollector { raft, clients }));
        Metrics {
            registry: root,
            commands,
            leader_changes,
        }
    }

    /// The handles of command `name` (as the command table spells it).
    pub fn command(&self, name: &str) -> Option<Arc<CommandMetrics>> {
        self.commands.get(name).cloned()
    }

    /// Every metric, in Prometheus's text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

pub use node::watch_leader;
