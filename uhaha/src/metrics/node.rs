//! What Raft and the process already know, read at each scrape: the role,
//! the term and the log's indexes, how far each follower is behind (on the
//! leader), the connected clients ([`NodeCollector`]), and the process's
//! memory and CPU time ([`ProcessCollector`]).

use crate::raft::{metrics, Raft};
use crate::server::clients::Clients;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use std::sync::Arc;

/// Reads the node's state at each scrape.
pub struct NodeCollector {
    pub raft: Raft,
    pub clients: Arc<Clients>,
}

/// `Collector` asks for `Debug`; the node's state is not worth printing.
impl std::fmt::Debug for NodeCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeCollector")
    }
}

/// Writes one gauge.
fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: i64) -> std::fmt::Result {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

impl Collector for NodeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let m = metrics(&self.raft);
        let index = |id: Option<crate::raft::LogId>| id.map_or(-1, |l| l.index as i64);
        let leads = m.current_leader == Some(m.id);
        let e = &mut encoder;
        gauge(
            e,
            "server_has_leader",
            "Whether a leader is known (1) or not (0)",
            m.current_leader.is_some() as i64,
        )?;
        gauge(
            e,
            "server_is_leader",
            "Whether this node is the leader (1) or not (0)",
            leads as i64,
        )?;
        gauge(
            e,
            "raft_term",
            "The Raft term this node is in",
            m.current_term as i64,
        )?;
        gauge(
            e,
            "raft_last_log_index",
            "The index of the last entry in this node's log",
            m.last_log_index.map_or(-1, |i| i as i64),
        )?;
        gauge(
            e,
            "raft_commit_index",
            "The index of the last entry known committed",
            index(m.local_committed),
        )?;
        gauge(
            e,
            "raft_applied_index",
            "The index of the last entry applied to the machine",
            index(m.last_applied),
        )?;
        gauge(
            e,
            "raft_snapshot_index",
            "The index of the last entry in the newest snapshot",
            index(m.snapshot),
        )?;
        if let Some(replication) = m.replication.as_ref().filter(|_| leads) {
            let last = m.last_log_index.unwrap_or(0);
            let mut family = e.encode_descriptor(
                "raft_follower_lag_entries",
                "On the leader: how many entries each member's log is behind the leader's",
                None,
                MetricType::Gauge,
            )?;
            for (id, matched) in replication.iter().filter(|(id, _)| **id != m.id) {
                let lag = match matched {
                    Some(matched) => last.saturating_sub(matched.index),
                    None => last + 1,
                };
                let labels = [("member", id.to_string())];
                ConstGauge::new(lag as i64).encode(family.encode_family(&labels)?)?;
            }
        }
        gauge(
            e,
            "server_connected_clients",
            "Client connections open now",
            self.clients.count() as i64,
        )?;
        Ok(())
    }
}

/// The process's CPU time and memory, under the names every Prometheus
/// client library gives them.
#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let e = &mut encoder;
        if let Some((cpu, rss)) = process_usage() {
            let metric = e.encode_descriptor(
                "process_cpu_seconds",
                "CPU time (user and system) this process has used",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(cpu).encode(metric)?;
            gauge(
                e,
                "process_resident_memory_bytes",
                "Resident memory of this process",
                rss,
            )?;
        }
        Ok(())
    }
}

/// This process's CPU seconds and resident bytes, from `/proc/self`.
fn process_usage() -> Option<(f64, i64)> {
    // USER_HZ is 100 in Linux's user-space ABI.
    const TICKS: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: i64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some((ticks as f64 / TICKS, rss_kib * 1024))
}
