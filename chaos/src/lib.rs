//! uhaha-chaos: runs a uhaha service's nodes under seeded faults while
//! clients use it, then checks what the clients saw.
//!
//! A run: start N nodes of the service binary and form a cluster; run
//! concurrent clients of a workload (a register per key, or a counter)
//! for a bounded time while the nemesis injects the faults a seed
//! schedules; heal everything, read the final state through the leader,
//! stop the nodes, and check the history. The verdict, the history and,
//! for a failure, a timeline of the offending key are written to the
//! output directory. See README.md.

pub mod check;
pub mod cluster;
pub mod history;
pub mod nemesis;
pub mod net;
pub mod resp;
pub mod timeline;
pub mod workload;

use check::Verdict;
use cluster::{Cluster, Spec};
use history::{Counts, Kind, Op};
use nemesis::FaultKind;
use net::{Namespaces, Net};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;
use workload::{Clients, Load, Workload};

/// Everything a run needs to know.
#[derive(Debug, Clone)]
pub struct Options {
    /// The service binary.
    pub bin: PathBuf,
    pub nodes: usize,
    pub length: Duration,
    pub seed: u64,
    pub nemesis: Vec<FaultKind>,
    pub workload: Workload,
    pub load: Load,
    /// Flags passed to every node.
    pub extra: Vec<String>,
    /// Where the history, logs and pictures go.
    pub out: PathBuf,
    /// Keep the nodes' data directories after the run.
    pub keep_data: bool,
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    pub verdict: Verdict,
    pub counts: Counts,
    /// Faults injected, by kind.
    pub faults: Vec<(FaultKind, usize)>,
    /// The one-line summary.
    pub line: String,
}

impl Report {
    /// The process exit status: 0 valid, 1 a violation, 2 undecided.
    pub fn exit_code(&self) -> i32 {
        match self.verdict {
            Verdict::Valid => 0,
            Verdict::Invalid(_) => 1,
            Verdict::GaveUp { .. } => 2,
        }
    }
}

/// Carries out a run. An error means the run itself could not be carried
/// out (exit status 2); the nodes, namespaces and data are cleaned up
/// either way, also when the returned future is dropped (Ctrl-C).
pub async fn run(opts: &Options) -> Result<Report, String> {
    if !(1..=9).contains(&opts.nodes) {
        return Err(format!("--nodes must be from 1 to 9, not {}", opts.nodes));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    // Dropped after the cluster (locals drop in reverse order).
    let _data = DataDirs {
        path: opts.out.join("data"),
        keep: opts.keep_data,
    };
    let net = if opts.nemesis.iter().any(|k| k.needs_namespaces()) {
        Net::Namespaces(Namespaces::create(opts.nodes)?)
    } else {
        Net::Loopback
    };
    let faketime = if opts.nemesis.contains(&FaultKind::Clock) {
        Some(faketime_library()?)
    } else {
        None
    };
    let spec = Spec {
        bin: opts.bin.clone(),
        extra: opts.extra.clone(),
        faketime,
        out: opts.out.clone(),
    };
    let mut cluster = Cluster::start(spec, net, opts.nodes).await?;
    let result = exercise(&mut cluster, opts).await;
    cluster.stop().await;
    result
}

/// Deletes the nodes' data directories when dropped, unless they are to be
/// kept: at the end of a run, after an error, or when the run is
/// interrupted.
struct DataDirs {
    path: PathBuf,
    keep: bool,
}

impl Drop for DataDirs {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// The run proper, on a started cluster.
async fn exercise(cluster: &mut Cluster, opts: &Options) -> Result<Report, String> {
    let start = Instant::now();
    let clients = Clients {
        addrs: cluster.nodes.iter().map(|n| n.addr.clone()).collect(),
        workload: opts.workload.clone(),
        start,
    };
    let steps = nemesis::schedule(&opts.nemesis, opts.nodes, opts.length, opts.seed);
    let mut log =
        nemesis::Log::create(opts.out.join("faults.log"), start).map_err(|e| e.to_string())?;
    let (mut ops, ()) = tokio::join!(
        clients.run(opts.load, start + opts.length, opts.seed),
        nemesis::execute(cluster, &steps, &mut log)
    );
    let history = opts.out.join("history.jsonl");
    // Written now too, so that a cluster that does not recover leaves it.
    history::write_jsonl(&history, &ops).map_err(|e| e.to_string())?;
    cluster.net.heal()?;
    if let Err(e) = cluster.recover().await {
        log.say(format!("recovery failed: {e}"));
        return Err(e);
    }
    log.say("every fault healed, every node serves".into());
    ops.extend(final_reads(cluster, &clients, opts).await?);
    history::write_jsonl(&history, &ops).map_err(|e| e.to_string())?;
    let verdict = match opts.workload {
        Workload::Register { .. } => check::register::check(&ops),
        Workload::Counter { .. } => check::counter::check(&ops),
    };
    let mut faults: HashMap<FaultKind, usize> = HashMap::new();
    for kind in log.injected {
        *faults.entry(kind).or_default() += 1;
    }
    let mut faults: Vec<(FaultKind, usize)> = faults.into_iter().collect();
    faults.sort();
    let counts = Counts::of(&ops);
    let line = summary(opts, &verdict, counts, &faults, &ops)?;
    std::fs::write(opts.out.join("verdict.txt"), format!("{line}\n")).map_err(|e| e.to_string())?;
    Ok(Report {
        verdict,
        counts,
        faults,
        line,
    })
}

/// After the faults: one read of every key (or one more ticket) through
/// the leader, each retried until it gets an answer, so that a lost
/// acknowledged write cannot go unseen.
async fn final_reads(
    cluster: &Cluster,
    clients: &Clients,
    opts: &Options,
) -> Result<Vec<Op>, String> {
    let lane = opts.load.clients as u32;
    let requests: Vec<(Vec<String>, Kind)> = match &opts.workload {
        Workload::Register { get, keys, .. } => (0..*keys)
            .map(|k| {
                (
                    vec![get.clone(), format!("chaos:{k}")],
                    Kind::Read { value: None },
                )
            })
            .collect(),
        Workload::Counter { incr } => vec![(vec![incr.clone()], Kind::Incr { value: None })],
    };
    let mut ops = Vec::new();
    let mut conns = HashMap::new();
    for (args, kind) in requests {
        let deadline = Instant::now() + cluster::START_TIMEOUT;
        loop {
            let leader = cluster.leader().await.unwrap_or(0);
            let addr = cluster.nodes[leader].addr.clone();
            let op = clients
                .perform(
                    &mut conns,
                    lane,
                    addr,
                    args.clone(),
                    kind.clone(),
                    opts.load.timeout,
                )
                .await;
            let done = op.outcome == history::Outcome::Ok;
            if done || Instant::now() > deadline {
                if !done {
                    return Err(format!(
                        "the final {:?} got no answer: {:?}",
                        args, op.error
                    ));
                }
                ops.push(op);
                break;
            }
            // An unknown increment still counts: it may have taken effect.
            if op.outcome == history::Outcome::Unknown && matches!(op.kind, Kind::Incr { .. }) {
                ops.push(op);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(ops)
}

/// The verdict line; writes the timeline picture for a violation.
fn summary(
    opts: &Options,
    verdict: &Verdict,
    counts: Counts,
    faults: &[(FaultKind, usize)],
    ops: &[Op],
) -> Result<String, String> {
    let total: usize = faults.iter().map(|(_, n)| n).sum();
    let kinds = faults
        .iter()
        .map(|(k, n)| format!("{} {n}", k.name()))
        .collect::<Vec<_>>()
        .join(", ");
    let what = format!(
        "{}, {} nodes of {}, seed {}, {} s: {} ok, {} failed, {} unknown operations; {total} faults{}",
        match opts.workload {
            Workload::Register { .. } => "register",
            Workload::Counter { .. } => "counter",
        },
        opts.nodes,
        opts.bin.file_name().unwrap_or_default().to_string_lossy(),
        opts.seed,
        opts.length.as_secs(),
        counts.ok,
        counts.failed,
        counts.unknown,
        if kinds.is_empty() { String::new() } else { format!(" ({kinds})") },
    );
    Ok(match verdict {
        Verdict::Valid => format!("PASS {what}"),
        Verdict::GaveUp { key } => format!("UNDECIDED {what}; the checker gave up on key {key:?}"),
        Verdict::Invalid(violations) => {
            let first = &violations[0];
            let picture = opts.out.join("timeline.html");
            let title = format!("uhaha-chaos: seed {}, {}", opts.seed, first.reason);
            std::fs::write(&picture, timeline::render(ops, first, &title))
                .and_then(|()| {
                    std::fs::write(opts.out.join("timeline.svg"), timeline::svg(ops, first))
                })
                .map_err(|e| format!("{}: {e}", picture.display()))?;
            format!(
                "FAIL {what}; {} violation(s), first: {}; timeline in {}",
                violations.len(),
                first.reason,
                picture.display()
            )
        }
    })
}

/// Finds libfaketime, which the clock faults preload into the nodes.
pub fn faketime_library() -> Result<PathBuf, String> {
    let candidates = [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
        "/usr/local/lib/faketime/libfaketimeMT.so.1",
    ];
    candidates
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
        .map(Path::to_path_buf)
        .ok_or_else(|| "clock faults need libfaketime (Debian: apt-get install faketime)".into())
}
