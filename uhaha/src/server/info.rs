//! `INFO [section ...]`: the node described in Redis's `INFO` format, with
//! the sections that client libraries, monitoring tools and people read,
//! and a `raft` section with the figures of `RAFT INFO`.
//!
//! Only figures the node really has are reported; Redis fields that make
//! no sense here (allocator statistics, keyspace hits) are left out rather
//! than made up. The text is a bulk string in RESP2 and a verbatim string
//! in RESP3, as Redis 7 sends it.

use super::monitor::Monitors;
use super::observers::Observers;
use super::Settings;
use crate::command::Reply;
use crate::pubsub::Hub;
use crate::raft::snapshot_file::SnapshotDir;
use crate::raft::Cluster;
use crate::server::clients::Clients;
use crate::server::cluster_commands::host_port;
use crate::server::listener::MAX_CONNECTIONS;
use crate::server::session::REDIS_VERSION;
use bytes::Bytes;
use std::fmt::{Display, Write as _};
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The sections, in the order `INFO` writes them. Plain `INFO`, `INFO
/// default`, `INFO all` and `INFO everything` show all of them.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cluster",
    "keyspace",
    "raft",
];

/// The sections that `INFO`'s arguments ask for, in [`SECTIONS`] order.
/// Names are matched in any case; unknown names are ignored, as Redis does.
fn wanted(args: &[Bytes]) -> Vec<&'static str> {
    let args: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let everything = args.is_empty()
        || args
            .iter()
            .any(|a| matches!(a.as_str(), "default" | "all" | "everything"));
    SECTIONS
        .iter()
        .copied()
        .filter(|s| everything || args.iter().any(|a| a == s))
        .collect()
}

/// Writes one `key:value` line.
fn field(out: &mut String, key: &str, value: impl Display) {
    let _ = write!(out, "{key}:{value}\r\n");
}

/// Bytes as Redis writes them for people: `812B`, `1.50K`, `12.25M`.
fn human(bytes: u64) -> String {
    const UNITS: &[(u64, &str)] = &[
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    UNITS
        .iter()
        .find(|(size, _)| bytes >= *size)
        .map(|(size, unit)| format!("{:.2}{unit}", bytes as f64 / *size as f64))
        .unwrap_or_else(|| format!("{bytes}B"))
}

/// An identifier for this process, random, as Redis's `run_id`: a tool
/// that sees it change knows the node restarted.
fn run_id() -> &'static str {
    static RUN_ID: OnceLock<String> = OnceLock::new();
    RUN_ID.get_or_init(|| {
        use rand_core::{OsRng, TryRngCore};
        let mut bytes = [0u8; 20];
        let _ = OsRng.try_fill_bytes(&mut bytes);
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    })
}

/// The process's resident memory and its peak, in bytes, from
/// `/proc/self/status`; zeros where there is no such file.
fn resident_memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .map_or(0, |n| n * 1024)
    };
    (kib("VmRSS:"), kib("VmHWM:"))
}

fn unix_now() -> std::time::Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// Who leads and who follows, as the replication section shows it.
#[derive(Debug)]
struct Replication {
    /// The leader's address, if one is known.
    leader: Option<String>,
    /// Whether this node leads.
    leading: bool,
    /// The addresses of the other members.
    others: Vec<String>,
    /// The applied log index: the replication offset.
    applied: u64,
}

/// What every section reads, gathered once per `INFO`.
struct Figures<'a> {
    clients: &'a Clients,
    replication: Replication,
    /// Entries applied since the newest snapshot.
    since_snapshot: u64,
    /// The `RAFT INFO` pairs.
    raft: Vec<(&'static str, String)>,
}

/// What `INFO` sees of the node: the service's name and version, its view
/// of the cluster, its snapshot files, the `MONITOR` feed and its settings.
pub struct Info<'a> {
    pub name: &'static str,
    pub version: &'static str,
    pub cluster: &'a Cluster,
    pub snapshots: &'a SnapshotDir,
    pub monitors: &'a Monitors,
    pub observers: &'a Observers,
    pub pubsub: &'a Hub,
    pub settings: &'a Settings,
}

impl Info<'_> {
    /// `INFO [section ...]`.
    pub fn info(&self, clients: &Clients, args: &[Bytes]) -> Reply {
        let status = self.cluster.status();
        let addr_of = |id| {
            status
                .members
                .iter()
                .find(|m| m.id == id)
                .map(|m| m.addr.clone())
        };
        let figures = Figures {
            clients,
            replication: Replication {
                leader: status.leader.and_then(addr_of),
                leading: status.leader == Some(status.id),
                others: status
                    .members
                    .iter()
                    .filter(|m| m.id != status.id)
                    .map(|m| m.addr.clone())
                    .collect(),
                applied: status.applied,
            },
            since_snapshot: status.applied.saturating_sub(status.snapshot.1),
            raft: status.info(),
        };
        let mut out = String::new();
        for section in wanted(args) {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            let mut title = section.to_string();
            title[..1].make_ascii_uppercase();
            let _ = write!(out, "# {title}\r\n");
            self.info_section(section, &figures, &mut out);
        }
        Reply::Verbatim(out)
    }

    fn info_section(&self, section: &str, figures: &Figures<'_>, out: &mut String) {
        let clients = figures.clients;
        match section {
            "server" => self.server_section(clients, out),
            "clients" => {
                field(out, "connected_clients", clients.count());
                field(out, "maxclients", MAX_CONNECTIONS);
                field(out, "blocked_clients", 0);
            }
            "memory" => {
                let (rss, peak) = resident_memory();
                // The process's resident size: uhaha does not count its
                // allocations as Redis's allocator does.
                field(out, "used_memory", rss);
                field(out, "used_memory_human", human(rss));
                field(out, "used_memory_rss", rss);
                field(out, "used_memory_rss_human", human(rss));
                field(out, "used_memory_peak", peak);
                field(out, "used_memory_peak_human", human(peak));
                field(out, "maxmemory", 0);
                field(out, "maxmemory_human", "0B");
                field(out, "maxmemory_policy", "noeviction");
            }
            "persistence" => self.persistence_section(figures.since_snapshot, out),
            "stats" => {
                let count = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
                field(
                    out,
                    "total_connections_received",
                    count(&clients.connections),
                );
                field(out, "total_commands_processed", count(&clients.commands));
                field(out, "total_net_input_bytes", count(&clients.input_bytes));
                field(out, "total_net_output_bytes", count(&clients.output_bytes));
                field(out, "monitor_dropped_lines", self.monitors.dropped_total());
                field(
                    out,
                    "observer_dropped_commands",
                    self.observers.dropped_total(),
                );
                let (channels, patterns) = self.pubsub.counts();
                field(out, "pubsub_channels", channels);
                field(out, "pubsub_patterns", patterns);
                field(
                    out,
                    "pubsub_dropped_subscribers",
                    self.pubsub.dropped_total(),
                );
            }
            "replication" => replication_section(&figures.replication, out),
            "cluster" => field(out, "cluster_enabled", 1),
            // The machine's contents are the user's: uhaha does not know
            // what a key is, so this section stays empty.
            "keyspace" => {}
            "raft" => {
                for (key, value) in &figures.raft {
                    field(out, key, value);
                }
            }
            _ => {}
        }
    }

    fn server_section(&self, clients: &Clients, out: &mut String) {
        let uptime = clients.started.elapsed().as_secs();
        field(out, "redis_version", REDIS_VERSION);
        field(out, "redis_mode", "cluster");
        field(out, "uhaha_version", env!("CARGO_PKG_VERSION"));
        field(out, "service_name", self.name);
        field(out, "service_version", self.version);
        field(
            out,
            "os",
            format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        );
        field(out, "arch_bits", usize::BITS);
        field(out, "process_id", std::process::id());
        field(out, "run_id", run_id());
        field(out, "tcp_port", clients.local.port());
        field(out, "server_time_usec", unix_now().as_micros());
        field(out, "uptime_in_seconds", uptime);
        field(out, "uptime_in_days", uptime / 86_400);
        let exe = std::env::current_exe().unwrap_or_default();
        field(out, "executable", exe.display());
        field(out, "config_file", "");
    }

    fn persistence_section(&self, since_snapshot: u64, out: &mut String) {
        let snapshots = self.snapshots.list();
        field(out, "loading", 0);
        field(out, "async_loading", 0);
        field(out, "rdb_changes_since_last_save", since_snapshot);
        field(out, "rdb_bgsave_in_progress", 0);
        field(
            out,
            "rdb_last_save_time",
            snapshots.first().map_or(0, |s| s.timestamp / 1_000_000_000),
        );
        field(out, "rdb_last_bgsave_status", "ok");
        field(out, "rdb_saves", snapshots.len());
        field(
            out,
            "log_fsync",
            if self.settings.nosync {
                "everysec"
            } else {
                "always"
            },
        );
    }
}

/// Redis's replication figures: the leader is the master, the other
/// members its replicas.
fn replication_section(r: &Replication, out: &mut String) {
    if r.leading {
        field(out, "role", "master");
        field(out, "connected_slaves", r.others.len());
        for (i, addr) in r.others.iter().enumerate() {
            let (host, port) = host_port(addr);
            field(
                out,
                &format!("slave{i}"),
                format_args!("ip={host},port={port},state=online"),
            );
        }
    } else {
        field(out, "role", "slave");
        let (host, port) = r.leader.as_deref().map_or(("", 0), host_port);
        field(out, "master_host", host);
        field(out, "master_port", port);
        let link = if r.leader.is_some() { "up" } else { "down" };
        field(out, "master_link_status", link);
    }
    field(out, "leader", r.leader.as_deref().unwrap_or(""));
    field(out, "master_repl_offset", r.applied);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<Bytes> {
        w.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn sections_are_picked_in_order_and_any_case() {
        assert_eq!(wanted(&[]), SECTIONS);
        assert_eq!(wanted(&words(&["ALL"])), SECTIONS);
        assert_eq!(
            wanted(&words(&["Raft", "server", "nope"])),
            ["server", "raft"]
        );
        assert!(wanted(&words(&["nope"])).is_empty());
    }

    #[test]
    fn sizes_read_like_redis() {
        assert_eq!(human(812), "812B");
        assert_eq!(human(1536), "1.50K");
        assert_eq!(human(5 << 20), "5.00M");
    }

    /// Node `me` of three at ports 11001-11003, with `leader` leading.
    fn replication(me: u16, leader: Option<u16>) -> Replication {
        let addr = |id: u16| format!("127.0.0.1:{}", 11000 + id);
        Replication {
            leader: leader.map(addr),
            leading: leader == Some(me),
            others: (1..=3).filter(|id| *id != me).map(addr).collect(),
            applied: 42,
        }
    }

    #[test]
    fn the_leader_is_master_and_the_others_replicas() {
        let mut out = String::new();
        replication_section(&replication(1, Some(1)), &mut out);
        assert!(out.starts_with("role:master\r\nconnected_slaves:2\r\nslave0:ip=127.0.0.1,port=11002,state=online\r\n"), "{out}");
        assert!(
            out.ends_with("leader:127.0.0.1:11001\r\nmaster_repl_offset:42\r\n"),
            "{out}"
        );
        let mut out = String::new();
        replication_section(&replication(2, Some(1)), &mut out);
        assert!(out.starts_with("role:slave\r\nmaster_host:127.0.0.1\r\nmaster_port:11001\r\nmaster_link_status:up\r\n"), "{out}");
        let mut out = String::new();
        replication_section(&replication(2, None), &mut out);
        assert!(
            out.contains("master_link_status:down\r\nleader:\r\n"),
            "{out}"
        );
    }

    #[test]
    fn run_id_is_forty_hex_digits_and_stable() {
        assert_eq!(run_id().len(), 40);
        assert!(run_id().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(run_id(), run_id());
    }
}
