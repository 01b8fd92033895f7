//! The command line: `run` measures one or more targets once, `compare`
//! alternates two targets over several rounds. README.md documents every
//! option with examples.

use crate::workload::{CommandSet, Workload, WorkloadKind};
use clap::{Args, Parser, Subcommand};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Benchmarks uhaha services (and any RESP server) under a write, read or
/// mixed workload.
#[derive(Debug, Parser)]
#[command(name = "uhaha-bench", version)]
pub struct Cli {
    #[command(subcommand)]
    pub mode: Mode,
}

#[derive(Debug, Subcommand)]
pub enum Mode {
    /// Measures a cluster started by the tool and/or running RESP servers,
    /// one after the other, with the same workload.
    Run(RunArgs),
    /// Measures two targets alternately (A B A B ...) and reports the ratio
    /// B/A of each round and its median: stable on a noisy machine.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Starts a cluster of this example (ticket, kvdb, timeseries), from
    /// `target/release/<NAME>` unless --bin is given.
    #[arg(long, value_name = "NAME")]
    pub example: Option<String>,
    /// The node binary of the cluster; its file name is the example's name
    /// unless --example is given.
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// How many nodes the cluster has.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..))]
    pub nodes: u16,
    /// Passes --nosync to the nodes (no fsync per write).
    #[arg(long)]
    pub nosync: bool,
    /// Passes --openreads to the nodes (reads without the read-index round).
    #[arg(long)]
    pub openreads: bool,
    /// Passes one more flag to every node (repeat for more), e.g.
    /// `--node-arg=--snapshot-logs=100000`.
    #[arg(long = "node-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub node_args: Vec<String>,
    /// Also measures a RESP server that is already up: `HOST:PORT`, with an
    /// optional `,commands=SET` (repeat for more targets).
    #[arg(long, value_name = "ADDR[,commands=SET]", value_parser = parse_addr_target)]
    pub target: Vec<TargetSpec>,
    /// The command set of every target that does not name its own; by
    /// default a cluster speaks its example's and an address `kv`.
    #[arg(long, value_enum)]
    pub commands: Option<CommandSet>,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Target A: `cluster:EXAMPLE[:NODES][,OPTION]...` or
    /// `addr:HOST:PORT[,commands=SET]`.
    #[arg(long = "a", value_name = "SPEC")]
    pub a: TargetSpec,
    /// Target B, in the same form as A.
    #[arg(long = "b", value_name = "SPEC")]
    pub b: TargetSpec,
    /// How many A-then-B rounds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: u32,
    #[command(flatten)]
    pub load: LoadArgs,
}

/// The workload and how it is driven: shared by both modes.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// write, read or mix.
    #[arg(short, long, value_enum, default_value_t = WorkloadKind::Write)]
    pub workload: WorkloadKind,
    /// The share of reads in a mix, from 0 to 1.
    #[arg(long, default_value_t = 0.5, value_parser = parse_ratio)]
    pub read_ratio: f64,
    /// How many distinct keys (kv and series command sets).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub keyspace: u64,
    /// The size in bytes of a SET's value.
    #[arg(long, default_value_t = 16)]
    pub value_size: usize,
    /// Concurrent connections, each with one pipeline in flight.
    #[arg(short, long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: u32,
    /// Requests per pipeline: each connection sends this many, then waits
    /// for all their replies.
    #[arg(short = 'P', long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub pipeline: u32,
    /// How long to measure (e.g. `10s`, `500ms`, `1m`).
    #[arg(short, long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Measure this many requests instead of a duration.
    #[arg(short = 'n', long)]
    pub requests: Option<u64>,
    /// How long to run the workload, unmeasured, before measuring.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// How long to probe the disk's fsync rate before each run (`0s`: skip).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub fsync_probe: Duration,
    /// Where the clusters' temporary data directories go (and so which
    /// filesystem the fsync probe measures); the system's temp dir by
    /// default.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Threads of the load generator (they share the cores with the nodes).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub client_threads: u16,
    /// Also writes the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

impl LoadArgs {
    /// The workload for a target that speaks `commands`.
    pub fn workload(&self, commands: CommandSet) -> Workload {
        let read_ratio = match self.workload {
            WorkloadKind::Write => 0.0,
            WorkloadKind::Read => 1.0,
            WorkloadKind::Mix => self.read_ratio,
        };
        Workload {
            kind: self.workload,
            commands,
            read_ratio,
            keyspace: self.keyspace,
            value_size: self.value_size,
        }
    }
}

impl RunArgs {
    /// The targets to measure, in order: the cluster (if asked for), then
    /// every `--target`.
    pub fn targets(&self) -> Result<Vec<TargetSpec>, String> {
        let mut targets = Vec::new();
        let example = match (&self.example, &self.bin) {
            (Some(example), _) => Some(example.clone()),
            (None, Some(bin)) => Some(
                bin.file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| format!("--bin {}: no file name", bin.display()))?
                    .to_string(),
            ),
            (None, None) => None,
        };
        if let Some(example) = example {
            targets.push(TargetSpec {
                kind: TargetKind::Cluster(ClusterSpec {
                    example,
                    bin: self.bin.clone(),
                    nodes: self.nodes,
                    nosync: self.nosync,
                    openreads: self.openreads,
                    node_args: self.node_args.clone(),
                }),
                commands: None,
            });
        }
        targets.extend(self.target.iter().cloned());
        if targets.is_empty() {
            return Err(
                "nothing to measure: give --example NAME, --bin PATH or --target ADDR".into(),
            );
        }
        for t in &mut targets {
            t.commands = t.commands.or(self.commands);
        }
        Ok(targets)
    }
}

/// Something to measure, with the commands it speaks (`None`: the default
/// for its kind).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetSpec {
    pub kind: TargetKind,
    pub commands: Option<CommandSet>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum TargetKind {
    /// A cluster the tool starts and stops.
    Cluster(ClusterSpec),
    /// A RESP server that is already up, at `HOST:PORT`.
    Addr(String),
}

/// A cluster of node processes of one example binary.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    pub example: String,
    /// The binary; `target/release/<example>` when `None`.
    pub bin: Option<PathBuf>,
    pub nodes: u16,
    pub nosync: bool,
    pub openreads: bool,
    /// More flags for every node.
    pub node_args: Vec<String>,
}

impl ClusterSpec {
    /// The flags every node gets besides `-n -a -d -j`.
    pub fn node_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if self.nosync {
            flags.push("--nosync".to_string());
        }
        if self.openreads {
            flags.push("--openreads".to_string());
        }
        flags.extend(self.node_args.iter().cloned());
        flags
    }
}

impl TargetSpec {
    /// The command set to use: the spec's own, or its kind's default.
    pub fn commands(&self) -> Result<CommandSet, String> {
        if let Some(c) = self.commands {
            return Ok(c);
        }
        match &self.kind {
            TargetKind::Addr(_) => Ok(CommandSet::Kv),
            TargetKind::Cluster(c) => CommandSet::for_example(&c.example).ok_or_else(|| {
                format!(
                    "no default command set for example {:?}: add commands=SET (ticket, counter, kv, series)",
                    c.example
                )
            }),
        }
    }
}

/// The spec in the syntax it is parsed from, so that a report names its
/// targets in a form that can be pasted back.
impl fmt::Display for TargetSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            TargetKind::Addr(addr) => write!(f, "addr:{addr}")?,
            TargetKind::Cluster(c) => {
                write!(f, "cluster:{}:{}", c.example, c.nodes)?;
                if c.nosync {
                    f.write_str(",nosync")?;
                }
                if c.openreads {
                    f.write_str(",openreads")?;
                }
                if let Some(bin) = &c.bin {
                    write!(f, ",bin={}", bin.display())?;
                }
                for arg in &c.node_args {
                    write!(f, ",arg={arg}")?;
                }
            }
        }
        if let Some(c) = self.commands {
            write!(f, ",commands={c}")?;
        }
        Ok(())
    }
}

/// `cluster:EXAMPLE[:NODES][,nosync][,openreads][,bin=PATH][,arg=FLAG]...[,commands=SET]`
/// or `addr:HOST:PORT[,commands=SET]`; options are comma-separated, so a
/// path or flag cannot itself hold a comma.
impl FromStr for TargetSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<TargetSpec, String> {
        let mut parts = s.split(',');
        let head = parts.next().unwrap_or_default();
        let (kind, rest) = head
            .split_once(':')
            .ok_or_else(|| format!("{s:?}: expected cluster:EXAMPLE[:NODES] or addr:HOST:PORT"))?;
        let mut spec = match kind {
            "addr" if !rest.is_empty() => TargetSpec {
                kind: TargetKind::Addr(rest.to_string()),
                commands: None,
            },
            "cluster" => {
                let (example, nodes) = match rest.split_once(':') {
                    Some((example, nodes)) => (
                        example,
                        nodes
                            .parse::<u16>()
                            .ok()
                            .filter(|n| *n >= 1)
                            .ok_or_else(|| format!("{s:?}: bad node count {nodes:?}"))?,
                    ),
                    None => (rest, 3),
                };
                if example.is_empty() {
                    return Err(format!("{s:?}: no example name"));
                }
                TargetSpec {
                    kind: TargetKind::Cluster(ClusterSpec {
                        example: example.to_string(),
                        bin: None,
                        nodes,
                        nosync: false,
                        openreads: false,
                        node_args: Vec::new(),
                    }),
                    commands: None,
                }
            }
            _ => {
                return Err(format!(
                    "{s:?}: expected cluster:EXAMPLE[:NODES] or addr:HOST:PORT"
                ))
            }
        };
        for option in parts {
            let (key, value) = match option.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (option, None),
            };
            match (&mut spec.kind, key, value) {
                (_, "commands", Some(v)) => {
                    spec.commands = Some(
                        <CommandSet as clap::ValueEnum>::from_str(v, true)
                            .map_err(|_| format!("{s:?}: unknown command set {v:?}"))?,
                    )
                }
                (TargetKind::Cluster(c), "nosync", None) => c.nosync = true,
                (TargetKind::Cluster(c), "openreads", None) => c.openreads = true,
                (TargetKind::Cluster(c), "bin", Some(v)) => c.bin = Some(PathBuf::from(v)),
                (TargetKind::Cluster(c), "arg", Some(v)) => c.node_args.push(v.to_string()),
                _ => return Err(format!("{s:?}: unknown or misplaced option {option:?}")),
            }
        }
        Ok(spec)
    }
}

/// `--target`'s value: an address, with optional `,commands=SET`.
fn parse_addr_target(s: &str) -> Result<TargetSpec, String> {
    let spec: TargetSpec = format!("addr:{s}").parse()?;
    Ok(spec)
}

/// A duration: a number with a unit (`ms`, `s`, `m`), or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration such as 10s, 500ms or 2m"))?;
    let seconds = match unit {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" => value / 1e6,
        "m" => value * 60.0,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{s:?}: {e}"))
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| format!("{s:?}: expected a number from 0 to 1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("uhaha-bench").chain(args.iter().copied()))
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn run_defaults() {
        let Mode::Run(run) = cli(&["run", "--example", "ticket"]).unwrap().mode else {
            panic!("run mode");
        };
        let load = &run.load;
        assert_eq!(load.workload, WorkloadKind::Write);
        assert_eq!((load.connections, load.pipeline), (50, 1));
        assert_eq!(load.duration, Duration::from_secs(10));
        assert_eq!(load.warmup, Duration::from_secs(2));
        assert_eq!(load.requests, None);
        let targets = run.targets().unwrap();
        assert_eq!(targets.len(), 1);
        assert_eq!(targets[0].to_string(), "cluster:ticket:3");
        assert_eq!(targets[0].commands(), Ok(CommandSet::Ticket));
    }

    #[test]
    fn run_with_cluster_flags_and_targets() {
        let Mode::Run(run) = cli(&[
            "run",
            "--bin",
            "/opt/x/kvdb",
            "--nodes",
            "1",
            "--nosync",
            "--openreads",
            "--node-arg=--snapshot-logs",
            "--node-arg",
            "500",
            "--target",
            "127.0.0.1:6390,commands=counter",
            "--target",
            "127.0.0.1:6391",
            "-w",
            "mix",
            "--read-ratio",
            "0.9",
            "-c",
            "8",
            "-P",
            "16",
            "-n",
            "1000",
            "--warmup",
            "500ms",
            "--json",
            "out.json",
        ])
        .unwrap()
        .mode
        else {
            panic!("run mode");
        };
        let targets = run.targets().unwrap();
        let TargetKind::Cluster(c) = &targets[0].kind else {
            panic!("a cluster first");
        };
        assert_eq!(c.example, "kvdb");
        assert_eq!(c.nodes, 1);
        assert_eq!(
            c.node_flags(),
            ["--nosync", "--openreads", "--snapshot-logs", "500"]
        );
        assert_eq!(targets[0].commands(), Ok(CommandSet::Kv));
        assert_eq!(targets[1].kind, TargetKind::Addr("127.0.0.1:6390".into()));
        assert_eq!(targets[1].commands(), Ok(CommandSet::Counter));
        assert_eq!(targets[2].commands(), Ok(CommandSet::Kv));
        let w = run.load.workload(CommandSet::Kv);
        assert_eq!(w.read_ratio, 0.9);
        assert_eq!(run.load.requests, Some(1000));
        assert_eq!(run.load.warmup, Duration::from_millis(500));
    }

    #[test]
    fn run_commands_applies_where_a_target_names_none() {
        let Mode::Run(run) = cli(&[
            "run",
            "--target",
            "h:1",
            "--target",
            "h:2,commands=kv",
            "--commands",
            "ticket",
        ])
        .unwrap()
        .mode
        else {
            panic!("run mode");
        };
        let sets: Vec<_> = run
            .targets()
            .unwrap()
            .iter()
            .map(|t| t.commands().unwrap())
            .collect();
        assert_eq!(sets, [CommandSet::Ticket, CommandSet::Kv]);
    }

    #[test]
    fn run_needs_something_to_measure() {
        let Mode::Run(run) = cli(&["run"]).unwrap().mode else {
            panic!("run mode");
        };
        assert!(run.targets().is_err());
    }

    #[test]
    fn compare_specs() {
        let Mode::Compare(cmp) = cli(&[
            "compare",
            "--a",
            "cluster:ticket:3,nosync,arg=--tick=100",
            "--b",
            "addr:127.0.0.1:6390,commands=counter",
            "--rounds",
            "5",
            "-w",
            "read",
        ])
        .unwrap()
        .mode
        else {
            panic!("compare mode");
        };
        assert_eq!(cmp.rounds, 5);
        assert_eq!(cmp.a.to_string(), "cluster:ticket:3,nosync,arg=--tick=100");
        assert_eq!(cmp.b.to_string(), "addr:127.0.0.1:6390,commands=counter");
        assert_eq!(cmp.load.workload(CommandSet::Ticket).read_ratio, 1.0);
    }

    #[test]
    fn specs_round_trip_through_display() {
        for s in [
            "cluster:kvdb:1",
            "cluster:ticket:5,nosync,openreads,bin=/tmp/t,arg=-l,arg=warn,commands=ticket",
            "addr:[::1]:6379,commands=kv",
        ] {
            let spec: TargetSpec = s.parse().unwrap();
            assert_eq!(spec.to_string(), s);
        }
        let spec: TargetSpec = "cluster:ticket".parse().unwrap();
        assert_eq!(
            spec.to_string(),
            "cluster:ticket:3",
            "three nodes by default"
        );
    }

    #[test]
    fn bad_specs_are_refused() {
        for s in [
            "ticket",
            "cluster:",
            "cluster:ticket:0",
            "cluster:ticket:x",
            "addr:",
            "addr:h:1,nosync",
            "cluster:ticket,commands=nope",
            "cluster:ticket,fast",
            "host:1",
        ] {
            assert!(s.parse::<TargetSpec>().is_err(), "{s:?} parsed");
        }
        let spec: TargetSpec = "cluster:foo".parse().unwrap();
        assert!(spec.commands().is_err(), "foo has no default command set");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn bad_numbers_are_refused() {
        assert!(cli(&["run", "--example", "ticket", "--read-ratio", "1.5"]).is_err());
        assert!(cli(&["run", "--example", "ticket", "-c", "0"]).is_err());
        assert!(cli(&["run", "--example", "ticket", "-P", "0"]).is_err());
        assert!(cli(&["run", "--example", "ticket", "--nodes", "0"]).is_err());
        assert!(cli(&["run", "--example", "ticket", "-w", "scan"]).is_err());
        assert!(
            cli(&["compare", "--a", "cluster:ticket"]).is_err(),
            "B is required"
        );
    }
}
