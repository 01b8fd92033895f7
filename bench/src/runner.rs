//! One measurement of one target, start to finish: start the target,
//! read the idle memory, probe the disk, fill the keys that reads need,
//! warm up, measure (CPU read before and after), read the peak memory,
//! stop.
//!
//! Every measurement starts a fresh cluster, so that rounds of a
//! comparison do not inherit each other's log, snapshots or page cache.

use crate::cli::{LoadArgs, TargetKind, TargetSpec};
use crate::client::{self, Connection, PhaseResult, Stop};
use crate::cluster::{self, System};
use crate::fsync_probe;
use crate::latency::LatencySummary;
use crate::procstat;
use crate::report::{ProcessReport, TargetReport};
use crate::workload::{RequestMaker, Workload};
use std::time::Instant;
use tokio::runtime::Runtime;

/// The smallest pipeline of the fill, so that writing the key space does
/// not take long against a durable cluster without pipelining.
const FILL_PIPELINE: u32 = 32;

/// Checks, before anything runs, that every target has a command set and
/// (for a cluster) a binary, so that a mistake in the last target does not
/// surface only after the first ones were measured.
pub fn preflight<'a>(targets: impl IntoIterator<Item = &'a TargetSpec>) -> Result<(), String> {
    for target in targets {
        target.commands()?;
        if let TargetKind::Cluster(c) = &target.kind {
            cluster::binary(c)?;
        }
    }
    Ok(())
}

/// Measures `spec` under `load`.
pub fn measure(rt: &Runtime, spec: &TargetSpec, load: &LoadArgs) -> Result<TargetReport, String> {
    let workload = load.workload(spec.commands()?);
    eprintln!("uhaha-bench: starting {spec}");
    let system = cluster::start(spec)?;
    let pids: Vec<Option<u32>> = system.processes.iter().map(|p| p.pid).collect();
    let idle: Vec<_> = pids.iter().map(|pid| memory(*pid)).collect();
    let fsync = if load.fsync_probe.is_zero() {
        None
    } else {
        let probe = |dir: &std::path::Path| fsync_probe::probe(dir, load.fsync_probe);
        let rate = match system.data_dir() {
            Some(dir) => probe(dir),
            None => probe(uhaha_tests::data_dir().path()),
        };
        Some(rate.map_err(|e| format!("fsync probe: {e}"))?)
    };
    eprintln!("uhaha-bench: running {} on {}", workload.kind, system.addr);
    let run = rt.block_on(drive(&system, &workload, load, &pids))?;
    let peak: Vec<_> = pids.iter().map(|pid| memory(*pid)).collect();
    let addr = system.addr.clone();
    let processes = system.processes.clone();
    drop(system);

    let Measured {
        mut phase,
        before,
        after,
        client_cpu_s,
    } = run;
    let elapsed_s = phase.elapsed.as_secs_f64();
    let nodes = processes
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let cpu_s = before[i].cpu_s.zip(after[i].cpu_s).map(|(b, a)| a - b);
            let disk = before[i].disk_bytes.zip(after[i].disk_bytes);
            ProcessReport {
                name: p.name,
                addr: p.addr,
                pid: p.pid,
                leader: p.leader,
                cpu_s,
                cpu_percent: cpu_s.map(|c| 100.0 * c / elapsed_s.max(1e-9)),
                disk_write_bytes: disk.map(|(b, a)| a.saturating_sub(b)),
                idle_rss_kib: idle[i].map(|m| m.rss_kib),
                peak_rss_kib: peak[i].map(|m| m.peak_rss_kib),
            }
        })
        .collect::<Vec<ProcessReport>>();
    let disk_bytes: Option<u64> = nodes.iter().map(|p| p.disk_write_bytes).sum();
    Ok(TargetReport {
        target: spec.to_string(),
        addr,
        workload,
        connections: load.connections,
        pipeline: load.pipeline,
        requests: phase.requests,
        errors: phase.errors,
        first_error: phase.first_error.take(),
        broken_connections: std::mem::take(&mut phase.failures),
        elapsed_s,
        ops_per_sec: phase.requests as f64 / elapsed_s.max(1e-9),
        latency: LatencySummary::from_samples(&mut phase.samples),
        fsync,
        client_cpu_s,
        disk_bytes_per_op: disk_bytes.map(|b| b as f64 / phase.requests.max(1) as f64),
        nodes,
    })
}

/// The measured phase and what the processes spent on it.
struct Measured {
    phase: PhaseResult,
    before: Vec<Spent>,
    after: Vec<Spent>,
    client_cpu_s: f64,
}

/// What a serving process has spent so far, where it can be read.
struct Spent {
    cpu_s: Option<f64>,
    disk_bytes: Option<u64>,
}

impl Spent {
    fn now(pid: Option<u32>) -> Spent {
        Spent {
            cpu_s: pid.and_then(|p| procstat::cpu_seconds(p).ok()),
            disk_bytes: pid.and_then(|p| procstat::disk_write_bytes(p).ok()),
        }
    }
}

/// Connects, fills, warms up and measures.
async fn drive(
    system: &System,
    workload: &Workload,
    load: &LoadArgs,
    pids: &[Option<u32>],
) -> Result<Measured, String> {
    let conns = client::connect(&system.addr, load.connections)
        .await
        .map_err(|e| format!("connect to {}: {e}", system.addr))?;
    let n = conns.len() as u64;
    let mut conns = conns;
    if workload.needs_fill() {
        let makers = (0..n).map(|i| workload.fill(i, n)).collect();
        let pipeline = load.pipeline.max(FILL_PIPELINE);
        conns = phase("fill", conns, makers, pipeline, Stop::Exhausted, false)
            .await?
            .0;
    }
    if !load.warmup.is_zero() {
        let makers = makers(workload, n, 1);
        let stop = Stop::At(Instant::now() + load.warmup);
        conns = phase("warm-up", conns, makers, load.pipeline, stop, false)
            .await?
            .0;
    }
    let spent = || -> Vec<Spent> { pids.iter().map(|p| Spent::now(*p)).collect() };
    let own = std::process::id();
    let client_before = procstat::cpu_seconds(own).unwrap_or(0.0);
    let before = spent();
    let stop = match load.requests {
        Some(total) => Stop::Requests(total),
        None => Stop::At(Instant::now() + load.duration),
    };
    let n = conns.len() as u64;
    let (_, result) = phase(
        "measured",
        conns,
        makers(workload, n, 2),
        load.pipeline,
        stop,
        true,
    )
    .await?;
    let after = spent();
    let client_cpu_s = procstat::cpu_seconds(own).unwrap_or(0.0) - client_before;
    Ok(Measured {
        phase: result,
        before,
        after,
        client_cpu_s,
    })
}

/// The workload's request makers for `n` connections; `phase` keeps each
/// phase's keys from repeating the previous phase's.
fn makers(workload: &Workload, n: u64, phase: u64) -> Vec<RequestMaker> {
    (0..n).map(|i| workload.requests(phase << 32 | i)).collect()
}

/// Runs a phase; fails when every connection broke in it.
async fn phase(
    name: &str,
    conns: Vec<Connection>,
    makers: Vec<RequestMaker>,
    pipeline: u32,
    stop: Stop,
    record: bool,
) -> Result<(Vec<Connection>, PhaseResult), String> {
    let (conns, result) = client::run_phase(conns, makers, pipeline, stop, record).await;
    for failure in &result.failures {
        eprintln!("uhaha-bench: a connection broke in the {name} phase: {failure}");
    }
    if result.errors > 0 && !record {
        eprintln!(
            "uhaha-bench: {} error replies in the {name} phase, first: {}",
            result.errors,
            result.first_error.as_deref().unwrap_or("?")
        );
    }
    if conns.is_empty() {
        return Err(format!("every connection broke in the {name} phase"));
    }
    Ok((conns, result))
}

fn memory(pid: Option<u32>) -> Option<procstat::Memory> {
    procstat::memory(pid?).ok()
}
