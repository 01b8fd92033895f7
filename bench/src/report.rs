//! The figures of a run, as a table for people and as JSON for scripts.
//!
//! The JSON holds everything the table shows and more (every latency
//! figure, each node's pid and memory), with units in the field names.

use crate::fsync_probe::FsyncRate;
use crate::latency::LatencySummary;
use crate::workload::Workload;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// The figures of one measured target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetReport {
    /// The target spec (`cluster:ticket:3`, `addr:127.0.0.1:6390`, ...).
    pub target: String,
    /// The address the workload went to (a cluster's leader).
    pub addr: String,
    pub workload: Workload,
    pub connections: u32,
    pub pipeline: u32,
    /// Requests answered in the measured phase.
    pub requests: u64,
    /// Error replies among them.
    pub errors: u64,
    pub first_error: Option<String>,
    /// Connections that broke, with the reason.
    pub broken_connections: Vec<String>,
    /// The measured phase's length, from its start to its last reply.
    pub elapsed_s: f64,
    pub ops_per_sec: f64,
    pub latency: LatencySummary,
    /// The disk's fsync rate just before the run; `None` when skipped.
    pub fsync: Option<FsyncRate>,
    /// CPU time of this tool during the measured phase.
    pub client_cpu_s: f64,
    /// Bytes the serving processes wrote to disk in the measured phase,
    /// summed, per request answered; `None` when a process's figure is
    /// unknown.
    pub disk_bytes_per_op: Option<f64>,
    /// The serving processes (each node, or the server at an address).
    pub nodes: Vec<ProcessReport>,
}

/// What one serving process cost.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessReport {
    pub name: String,
    pub addr: String,
    /// `None` when the process could not be found (not ours, or remote):
    /// then its other figures are `None` too.
    pub pid: Option<u32>,
    /// Whether the workload went to it.
    pub leader: bool,
    /// CPU time (user + system) during the measured phase.
    pub cpu_s: Option<f64>,
    /// The same, as a share of one core over the measured phase.
    pub cpu_percent: Option<f64>,
    /// Bytes it wrote to disk during the measured phase.
    pub disk_write_bytes: Option<u64>,
    /// Resident memory once started, before any load.
    pub idle_rss_kib: Option<u64>,
    /// The most it ever had resident, read after the run.
    pub peak_rss_kib: Option<u64>,
}

/// A `run`: each target measured once.
#[derive(Debug, Serialize)]
pub struct RunReport {
    pub tool: &'static str,
    pub version: &'static str,
    pub mode: &'static str,
    pub results: Vec<TargetReport>,
}

/// One A-then-B round of a comparison, with B's figures over A's.
#[derive(Debug, Serialize)]
pub struct Round {
    pub a: TargetReport,
    pub b: TargetReport,
    pub ratios_b_over_a: Ratios,
}

/// B's figure divided by A's: an `ops_per_sec` ratio above 1 means B is
/// faster; a latency ratio above 1 means B is slower.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratios {
    pub ops_per_sec: f64,
    pub p50: f64,
    pub p99: f64,
}

/// A `compare`.
#[derive(Debug, Serialize)]
pub struct CompareReport {
    pub tool: &'static str,
    pub version: &'static str,
    pub mode: &'static str,
    pub a: String,
    pub b: String,
    pub rounds: Vec<Round>,
    /// The median of each ratio over the rounds.
    pub median_b_over_a: Ratios,
}

/// Writes a report as pretty JSON.
pub fn write_json(path: &Path, report: &impl Serialize) -> Result<(), String> {
    let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// The table of a run: one line per target, then its processes.
pub fn run_table(results: &[TargetReport]) -> String {
    let lines: Vec<(String, &TargetReport)> =
        results.iter().map(|r| (r.target.clone(), r)).collect();
    let mut out = summary(&lines);
    for (name, r) in &lines {
        details(&mut out, name, r);
    }
    out
}

/// The table of a comparison: every round's figures and ratios, then the
/// medians.
pub fn compare_table(report: &CompareReport) -> String {
    let lines: Vec<(String, &TargetReport)> = report
        .rounds
        .iter()
        .enumerate()
        .flat_map(|(i, round)| {
            [
                (format!("round {} A", i + 1), &round.a),
                (format!("round {} B", i + 1), &round.b),
            ]
        })
        .collect();
    let mut out = format!("A = {}\nB = {}\n\n", report.a, report.b);
    out += &summary(&lines);
    let _ = writeln!(
        out,
        "\n{:<10} {:>10} {:>10} {:>10}",
        "B/A", "ops/s", "p50", "p99"
    );
    for (i, round) in report.rounds.iter().enumerate() {
        ratio_line(&mut out, &format!("round {}", i + 1), round.ratios_b_over_a);
    }
    ratio_line(&mut out, "median", report.median_b_over_a);
    out += "(ops/s above 1: B is faster; a latency above 1: B is slower)\n";
    for (name, r) in &lines {
        details(&mut out, name, r);
    }
    out
}

/// One line per named report: throughput, latency percentiles, errors
/// and the disk's fsync rate.
fn summary(lines: &[(String, &TargetReport)]) -> String {
    let width = lines.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(6);
    let mut out = format!(
        "{:<width$} {:>10} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9} {:>8}\n",
        "target",
        "ops/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "errors",
        "disk B/op",
        "fsync/s"
    );
    let ms = |us: u32| us as f64 / 1000.0;
    for (name, r) in lines {
        let fsync = r
            .fsync
            .map_or("-".to_string(), |f| format!("{:.0}", f.fsyncs_per_sec));
        let disk = r
            .disk_bytes_per_op
            .map_or("-".to_string(), |b| format!("{b:.0}"));
        let _ = writeln!(
            out,
            "{:<width$} {:>10.0} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>7} {:>9} {:>8}",
            name,
            r.ops_per_sec,
            ms(r.latency.p50_us),
            ms(r.latency.p90_us),
            ms(r.latency.p99_us),
            ms(r.latency.p999_us),
            r.errors,
            disk,
            fsync
        );
    }
    out
}

fn ratio_line(out: &mut String, name: &str, r: Ratios) {
    let _ = writeln!(
        out,
        "{:<10} {:>10.3} {:>10.3} {:>10.3}",
        name, r.ops_per_sec, r.p50, r.p99
    );
}

/// A target's workload, fsync probe, client cost, errors and processes.
fn details(out: &mut String, name: &str, r: &TargetReport) {
    let w = &r.workload;
    let _ = writeln!(out, "\n{name}:");
    if name != r.target {
        let _ = writeln!(out, "  target {}", r.target);
    }
    let _ = writeln!(
        out,
        "  {} workload, {} commands, read ratio {}, {} connections, pipeline {}: \
         {} requests in {:.2} s via {}",
        w.kind,
        w.commands,
        w.read_ratio,
        r.connections,
        r.pipeline,
        r.requests,
        r.elapsed_s,
        r.addr
    );
    if let Some(f) = r.fsync {
        let _ = writeln!(
            out,
            "  disk: {:.0} fsyncs/s, {:.0} us per write+fsync",
            f.fsyncs_per_sec, f.mean_latency_us
        );
    }
    let _ = writeln!(
        out,
        "  latency us: mean {:.0}, min {}, max {}; client CPU {:.2} s",
        r.latency.mean_us, r.latency.min_us, r.latency.max_us, r.client_cpu_s
    );
    if r.errors > 0 {
        let _ = writeln!(
            out,
            "  {} error replies, first: {}",
            r.errors,
            r.first_error.as_deref().unwrap_or("?")
        );
    }
    for b in &r.broken_connections {
        let _ = writeln!(out, "  broken connection: {b}");
    }
    let _ = writeln!(
        out,
        "  {:<18} {:<22} {:>8} {:>7} {:>10} {:>13} {:>13}",
        "process", "addr", "cpu s", "cpu %", "disk MiB", "idle RSS MiB", "peak RSS MiB"
    );
    let opt =
        |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
    let mib = |kib: Option<u64>| opt(kib.map(|k| k as f64 / 1024.0), 1);
    for p in &r.nodes {
        let name = if p.leader && r.nodes.len() > 1 {
            format!("{} (leader)", p.name)
        } else {
            p.name.clone()
        };
        let disk = p.disk_write_bytes.map(|b| b as f64 / (1 << 20) as f64);
        let _ = writeln!(
            out,
            "  {:<18} {:<22} {:>8} {:>7} {:>10} {:>13} {:>13}",
            name,
            p.addr,
            opt(p.cpu_s, 2),
            opt(p.cpu_percent, 0),
            opt(disk, 2),
            mib(p.idle_rss_kib),
            mib(p.peak_rss_kib)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{CommandSet, WorkloadKind};

    fn report(target: &str, ops: f64, nodes: usize) -> TargetReport {
        TargetReport {
            target: target.into(),
            addr: "127.0.0.1:1".into(),
            workload: Workload {
                kind: WorkloadKind::Write,
                commands: CommandSet::Ticket,
                read_ratio: 0.0,
                keyspace: 1,
                value_size: 0,
            },
            connections: 1,
            pipeline: 1,
            requests: 10,
            errors: 0,
            first_error: None,
            broken_connections: Vec::new(),
            elapsed_s: 1.0,
            ops_per_sec: ops,
            latency: LatencySummary::default(),
            fsync: None,
            client_cpu_s: 0.0,
            disk_bytes_per_op: Some(512.0),
            nodes: (0..nodes)
                .map(|i| ProcessReport {
                    name: format!("node {}", i + 1),
                    addr: "127.0.0.1:1".into(),
                    pid: None,
                    leader: i == 0,
                    cpu_s: None,
                    cpu_percent: None,
                    disk_write_bytes: None,
                    idle_rss_kib: Some(8192),
                    peak_rss_kib: None,
                })
                .collect(),
        }
    }

    #[test]
    fn run_table_names_the_leader_of_a_cluster_only() {
        let table = run_table(&[
            report("cluster:ticket:3", 1234.0, 3),
            report("addr:h:1", 5.0, 1),
        ]);
        assert!(table.contains("cluster:ticket:3"), "{table}");
        assert!(table.contains("node 1 (leader)"), "{table}");
        assert!(!table.contains("node 2 (leader)"), "{table}");
        assert!(table.contains("8.0"), "idle RSS in MiB: {table}");
        assert!(
            table.contains("disk B/op") && table.contains(" 512 "),
            "{table}"
        );
        assert_eq!(table.matches("(leader)").count(), 1, "{table}");
    }

    #[test]
    fn compare_table_says_which_way_the_ratio_goes() {
        let ratios = Ratios {
            ops_per_sec: 2.0,
            p50: 0.5,
            p99: 0.25,
        };
        let table = compare_table(&CompareReport {
            tool: "uhaha-bench",
            version: "0",
            mode: "compare",
            a: "cluster:ticket:3".into(),
            b: "addr:h:1".into(),
            rounds: vec![Round {
                a: report("cluster:ticket:3", 100.0, 3),
                b: report("addr:h:1", 200.0, 1),
                ratios_b_over_a: ratios,
            }],
            median_b_over_a: ratios,
        });
        assert!(table.contains("B/A"), "{table}");
        assert!(table.contains("B is faster"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("median") && l.contains("2.000")),
            "{table}"
        );
    }
}
