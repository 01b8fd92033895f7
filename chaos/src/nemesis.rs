//! The faults: what kinds exist, the schedule a seed gives, and carrying a
//! schedule out against a cluster.
//!
//! A schedule is a list of steps, each one fault held for a while and then
//! healed, with quiet gaps between them. The same seed, kinds, node count
//! and length always give the same schedule; which node "the leader" is
//! gets decided when the step runs.

use crate::cluster::Cluster;
use crate::net::Link;
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;
use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

/// A kind of fault, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// `kill -9` of a node, and a restart with its data.
    Kill,
    /// SIGSTOP, then SIGCONT.
    Pause,
    /// Node-to-node traffic cut: one node or the leader isolated, a
    /// majority/minority split, or a bridge.
    Partition,
    /// A node's links to its peers made lossy or slow.
    Link,
    /// A node's wall clock jumps by minutes to hours, then back.
    Clock,
    /// A node removed from the cluster, then added back empty.
    Member,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::Kill,
        FaultKind::Pause,
        FaultKind::Partition,
        FaultKind::Link,
        FaultKind::Clock,
        FaultKind::Member,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Kill => "kill",
            FaultKind::Pause => "pause",
            FaultKind::Partition => "partition",
            FaultKind::Link => "link",
            FaultKind::Clock => "clock",
            FaultKind::Member => "member",
        }
    }

    /// Parses `all`, `none` or a comma-separated list of kinds.
    pub fn parse_list(list: &str) -> Result<Vec<FaultKind>, String> {
        match list.trim() {
            "all" => return Ok(FaultKind::ALL.to_vec()),
            "none" | "" => return Ok(Vec::new()),
            _ => {}
        }
        let mut kinds = Vec::new();
        for name in list.split(',').map(str::trim) {
            let kind = FaultKind::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| {
                    format!(
                        "unknown fault kind {name:?}: expected all, none, or some of {}",
                        FaultKind::ALL.map(FaultKind::name).join(",")
                    )
                })?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        kinds.sort();
        Ok(kinds)
    }

    /// Whether it needs the nodes in network namespaces.
    pub fn needs_namespaces(self) -> bool {
        matches!(self, FaultKind::Partition | FaultKind::Link)
    }
}

/// Which node a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Whichever node leads when the fault starts.
    Leader,
    /// A node by index (0-based).
    Node(usize),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Leader => f.write_str("the leader"),
            Target::Node(i) => write!(f, "node {}", i + 1),
        }
    }
}

/// How a partition splits the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    /// One node cut off from every other.
    Isolate(Target),
    /// These nodes (a minority) cut off from the rest.
    Minority(Vec<usize>),
    /// The first node talks to everyone; the others form two sides that
    /// only reach each other through it.
    Bridge(Vec<usize>),
}

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    Kill(Target),
    Pause(Target),
    Partition(Split),
    Link(Target, Link),
    Clock(Target, i64),
    Member(Target),
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Kill(_) => FaultKind::Kill,
            Fault::Pause(_) => FaultKind::Pause,
            Fault::Partition(_) => FaultKind::Partition,
            Fault::Link(..) => FaultKind::Link,
            Fault::Clock(..) => FaultKind::Clock,
            Fault::Member(_) => FaultKind::Member,
        }
    }
}

/// One step of a schedule: a fault from `at` for `lasts`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub at: Duration,
    pub lasts: Duration,
    pub fault: Fault,
}

/// The schedule for a run: faults of the given kinds, each kind once in
/// every round of as many faults as there are kinds, in a seeded order.
pub fn schedule(kinds: &[FaultKind], nodes: usize, length: Duration, seed: u64) -> Vec<Step> {
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut between = |lo: u64, hi: u64| lo + rng.next_u64() % (hi - lo + 1);
    let mut steps = Vec::new();
    if kinds.is_empty() {
        return steps;
    }
    let mut t = 1000u64;
    let end = length.as_millis() as u64;
    // Kinds are drawn from a shuffled bag, refilled when empty, so that a
    // short run still meets every kind before it meets one twice.
    let mut bag: Vec<FaultKind> = Vec::new();
    loop {
        t += between(300, 1500);
        if bag.is_empty() {
            bag = shuffled(kinds.len(), &mut between)
                .into_iter()
                .map(|i| kinds[i])
                .collect();
        }
        let kind = bag.pop().expect("refilled above");
        let lasts = between(800, 3500);
        if t + lasts + 500 > end {
            return steps;
        }
        let target = if between(0, 2) == 0 {
            Target::Leader
        } else {
            Target::Node(between(0, nodes as u64 - 1) as usize)
        };
        let fault = match kind {
            FaultKind::Kill => Fault::Kill(target),
            FaultKind::Pause => Fault::Pause(target),
            FaultKind::Partition => Fault::Partition(match between(0, 2) {
                0 => Split::Isolate(target),
                1 => {
                    let mut order = shuffled(nodes, &mut between);
                    order.truncate((nodes - 1) / 2);
                    Split::Minority(order)
                }
                _ => Split::Bridge(shuffled(nodes, &mut between)),
            }),
            FaultKind::Link => {
                let link = if between(0, 1) == 0 {
                    Link::Loss(between(20, 60) as f64 / 100.0)
                } else {
                    Link::Slow
                };
                Fault::Link(target, link)
            }
            FaultKind::Clock => {
                let seconds = between(60, 7200) as i64;
                Fault::Clock(
                    target,
                    if between(0, 1) == 0 {
                        seconds
                    } else {
                        -seconds
                    },
                )
            }
            FaultKind::Member => Fault::Member(target),
        };
        steps.push(Step {
            at: Duration::from_millis(t),
            lasts: Duration::from_millis(lasts),
            fault,
        });
        t += lasts;
    }
}

fn shuffled(n: usize, between: &mut impl FnMut(u64, u64) -> u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, between(0, i as u64) as usize);
    }
    order
}

/// What happened during a run: each line goes to `faults.log` at once,
/// so that a run that stops half way still says what it did.
#[derive(Debug)]
pub struct Log {
    path: PathBuf,
    start: Instant,
    /// The faults injected, in order.
    pub injected: Vec<FaultKind>,
}

impl Log {
    /// A log that writes to `path` (truncated), timed from `start`.
    pub fn create(path: PathBuf, start: Instant) -> std::io::Result<Log> {
        std::fs::write(&path, "")?;
        Ok(Log {
            path,
            start,
            injected: Vec::new(),
        })
    }

    /// Appends one timed line.
    pub fn say(&mut self, line: String) {
        let at = self.start.elapsed().as_secs_f64();
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.path)
            .and_then(|mut f| writeln!(f, "{at:8.3}s {line}"));
        if let Err(e) = appended {
            eprintln!("uhaha-chaos: {}: {e}", self.path.display());
        }
    }
}

/// Carries a schedule out, healing each fault before the next.
pub async fn execute(cluster: &mut Cluster, steps: &[Step], log: &mut Log) {
    let start = log.start;
    for step in steps {
        tokio::time::sleep_until(start + step.at).await;
        let leader = cluster.leader().await;
        // A node out of the cluster (a removal whose re-adding failed) is
        // left alone: restarting it without -j would found a cluster of
        // its own. Without a known leader the first member stands in.
        let members: Vec<usize> = (0..cluster.nodes.len())
            .filter(|&i| !cluster.nodes[i].removed)
            .collect();
        let stand_in = leader.or(members.first().copied()).unwrap_or(0);
        let leader_note = match leader {
            Some(l) => format!("(leader: node {})", l + 1),
            None => format!("(no leader known; node {} stands in for it)", stand_in + 1),
        };
        let targets: Vec<Target> = match &step.fault {
            Fault::Kill(t)
            | Fault::Pause(t)
            | Fault::Link(t, _)
            | Fault::Clock(t, _)
            | Fault::Member(t) => vec![*t],
            Fault::Partition(Split::Isolate(t)) => vec![*t],
            Fault::Partition(_) => Vec::new(),
        };
        let node = |target: Target| match target {
            Target::Node(i) => i,
            Target::Leader => stand_in,
        };
        if let Some(out) = targets
            .iter()
            .map(|t| node(*t))
            .find(|&i| cluster.nodes[i].removed)
        {
            log.say(format!(
                "{:?} of node {} skipped: it is out of the cluster",
                step.fault.kind(),
                out + 1
            ));
            continue;
        }
        let outcome = match &step.fault {
            Fault::Kill(t) => {
                let i = node(*t);
                cluster.kill(i).await;
                log.say(format!("kill -9 node {} {leader_note}", i + 1));
                hold(step, start).await;
                cluster
                    .restart(i)
                    .await
                    .map(|()| format!("node {} restarted", i + 1))
            }
            Fault::Pause(t) => {
                let i = node(*t);
                cluster.signal(i, true);
                log.say(format!("SIGSTOP node {} {leader_note}", i + 1));
                hold(step, start).await;
                cluster.signal(i, false);
                Ok(format!("SIGCONT node {}", i + 1))
            }
            Fault::Partition(split) => {
                let n = cluster.nodes.len();
                let (pairs, what) = cuts(split, n, Some(stand_in));
                let result = cluster.net.cut(&pairs);
                log.say(format!("partition: {what} {leader_note}"));
                if let Err(e) = result {
                    return fail(log, e);
                }
                hold(step, start).await;
                cluster.net.heal().map(|()| "partition healed".into())
            }
            Fault::Link(t, link) => {
                let i = node(*t);
                let what = match link {
                    Link::Loss(p) => format!("drops {:.0}% of its packets to peers", p * 100.0),
                    Link::Slow => format!("slowed ({})", cluster.net.slow_kind()),
                };
                if let Err(e) = cluster.net.degrade(i, *link) {
                    return fail(log, e);
                }
                log.say(format!("link: node {} {what} {leader_note}", i + 1));
                hold(step, start).await;
                cluster.net.heal().map(|()| "links healed".into())
            }
            Fault::Clock(t, offset) => {
                let i = node(*t);
                if let Err(e) = cluster.set_clock(i, *offset) {
                    return fail(log, e);
                }
                log.say(format!(
                    "clock: node {} jumps {offset:+} s {leader_note}",
                    i + 1
                ));
                hold(step, start).await;
                cluster
                    .set_clock(i, 0)
                    .map(|()| format!("clock: node {} back", i + 1))
            }
            Fault::Member(t) => {
                let i = node(*t);
                match cluster.remove(i).await {
                    Ok(()) => {
                        log.say(format!("member: node {} removed {leader_note}", i + 1));
                        hold(step, start).await;
                        cluster
                            .rejoin(i)
                            .await
                            .map(|()| format!("member: node {} added back", i + 1))
                    }
                    Err(e) => {
                        log.say(format!("member: removing node {} skipped: {e}", i + 1));
                        continue;
                    }
                }
            }
        };
        log.injected.push(step.fault.kind());
        match outcome {
            Ok(line) => log.say(line),
            Err(e) => log.say(format!(
                "healing failed (the end of the run tries again): {e}"
            )),
        }
    }
}

/// Keeps a fault in place for its step's length.
async fn hold(step: &Step, start: Instant) {
    tokio::time::sleep_until((start + step.at + step.lasts).max(Instant::now())).await;
}

/// Ends the schedule early: a fault that cannot be injected (a missing
/// tool) will not be injectable later either.
fn fail(log: &mut Log, e: String) {
    log.say(format!(
        "could not inject the fault, schedule abandoned: {e}"
    ));
}

/// The node pairs a split cuts apart, and its description.
fn cuts(split: &Split, n: usize, leader: Option<usize>) -> (Vec<(usize, usize)>, String) {
    let names = |v: &[usize]| {
        v.iter()
            .map(|i| (i + 1).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    match split {
        Split::Isolate(t) => {
            let i = match t {
                Target::Node(i) => *i,
                Target::Leader => leader.unwrap_or(0),
            };
            let pairs = (0..n).filter(|&j| j != i).map(|j| (i, j)).collect();
            let leader = if *t == Target::Leader {
                " (the leader)"
            } else {
                ""
            };
            (pairs, format!("node {} isolated{leader}", i + 1))
        }
        Split::Minority(minority) => {
            let majority: Vec<usize> = (0..n).filter(|j| !minority.contains(j)).collect();
            let pairs = minority
                .iter()
                .flat_map(|&a| majority.iter().map(move |&b| (a, b)))
                .collect();
            (
                pairs,
                format!("nodes {} | nodes {}", names(minority), names(&majority)),
            )
        }
        Split::Bridge(order) => {
            let (bridge, rest) = order.split_first().expect("at least one node");
            let (a, b) = rest.split_at(rest.len() / 2);
            let pairs = a
                .iter()
                .flat_map(|&x| b.iter().map(move |&y| (x, y)))
                .collect();
            (
                pairs,
                format!(
                    "nodes {} | nodes {}, bridged by node {}",
                    names(a),
                    names(b),
                    bridge + 1
                ),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let a = schedule(&FaultKind::ALL, 5, Duration::from_secs(60), 7);
        let b = schedule(&FaultKind::ALL, 5, Duration::from_secs(60), 7);
        let c = schedule(&FaultKind::ALL, 5, Duration::from_secs(60), 8);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.len() >= 10, "{a:?}");
        let last = a.last().unwrap();
        assert!(last.at + last.lasts <= Duration::from_secs(60));
        for kind in FaultKind::ALL {
            assert!(
                a.iter().any(|s| s.fault.kind() == kind),
                "{kind:?} in {a:?}"
            );
        }
    }

    #[test]
    fn kinds_parse_from_the_command_line() {
        assert_eq!(FaultKind::parse_list("all").unwrap(), FaultKind::ALL);
        assert_eq!(FaultKind::parse_list("none").unwrap(), []);
        assert_eq!(
            FaultKind::parse_list("pause,kill,kill").unwrap(),
            [FaultKind::Kill, FaultKind::Pause]
        );
        assert!(FaultKind::parse_list("kill,flood")
            .unwrap_err()
            .contains("flood"));
    }

    #[test]
    fn splits_cut_the_right_pairs() {
        let (pairs, _) = cuts(&Split::Isolate(Target::Leader), 3, Some(1));
        assert_eq!(pairs, [(1, 0), (1, 2)]);
        let (pairs, _) = cuts(&Split::Minority(vec![0, 3]), 5, None);
        assert_eq!(pairs.len(), 6);
        let (pairs, what) = cuts(&Split::Bridge(vec![2, 0, 1, 3, 4]), 5, None);
        assert_eq!(pairs, [(0, 3), (0, 4), (1, 3), (1, 4)]);
        assert!(what.contains("bridged by node 3"), "{what}");
    }
}
