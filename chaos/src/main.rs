//! The `uhaha-chaos` command line; see README.md.

use clap::{Parser, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use uhaha_chaos::nemesis::FaultKind;
use uhaha_chaos::workload::{Load, Workload};
use uhaha_chaos::Options;

/// Runs a uhaha service's nodes under seeded faults while clients use it,
/// and checks what the clients saw. Exit status: 0 every history checks
/// out, 1 a violation was found, 2 the run could not be carried out.
#[derive(Parser, Debug)]
#[command(name = "uhaha-chaos", version)]
struct Args {
    /// The service binary (any uhaha service).
    #[arg(long, value_name = "PATH")]
    bin: PathBuf,
    /// How many nodes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
    nodes: u8,
    /// How long the clients run, in seconds.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Chooses the fault schedule (and the clients' choices).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fault kinds, comma-separated: kill, pause, partition, link, clock,
    /// member; or all, or none. partition and link need root (network
    /// namespaces), clock needs libfaketime.
    #[arg(long, default_value = "all")]
    nemesis: String,
    /// What the clients do.
    #[arg(long, value_enum, default_value_t = WorkloadKind::Register)]
    workload: WorkloadKind,
    /// Flags passed to every node, split at spaces (for example
    /// "--openreads").
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    extra: String,
    /// Where the history, the node logs and a violation's timeline go.
    #[arg(long, default_value = "chaos-out")]
    out: PathBuf,
    /// The register workload's write command: `SET key value`.
    #[arg(long, default_value = "SET")]
    set: String,
    /// The register workload's read command: `GET key`, nil when unset.
    #[arg(long, default_value = "GET")]
    get: String,
    /// The counter workload's command: returns the next number.
    #[arg(long, default_value = "TICKET")]
    incr: String,
    /// How many keys the register workload spreads over.
    #[arg(long, default_value_t = 4)]
    keys: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 6)]
    clients: usize,
    /// Operations per second over all clients.
    #[arg(long, default_value_t = 300)]
    rate: u32,
    /// Milliseconds after which an operation's outcome is unknown.
    #[arg(long, default_value_t = 2000)]
    timeout_ms: u64,
    /// Keep the nodes' data directories in the output directory.
    #[arg(long)]
    keep_data: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum WorkloadKind {
    Register,
    Counter,
}

fn options(args: Args) -> Result<Options, String> {
    let workload = match args.workload {
        WorkloadKind::Register => Workload::Register {
            set: args.set,
            get: args.get,
            keys: args.keys.max(1),
        },
        WorkloadKind::Counter => Workload::Counter { incr: args.incr },
    };
    Ok(Options {
        bin: args.bin,
        nodes: args.nodes.into(),
        length: Duration::from_secs(args.seconds),
        seed: args.seed,
        nemesis: FaultKind::parse_list(&args.nemesis)?,
        workload,
        load: Load {
            clients: args.clients.max(1),
            rate: args.rate,
            timeout: Duration::from_millis(args.timeout_ms),
        },
        extra: args.extra.split_whitespace().map(String::from).collect(),
        out: args.out,
        keep_data: args.keep_data,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let opts = match options(Args::parse()) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("uhaha-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    // Dropping the run's future on a signal kills the nodes and removes
    // the namespaces (their destructors do it).
    let outcome = tokio::select! {
        outcome = uhaha_chaos::run(&opts) => outcome,
        _ = tokio::signal::ctrl_c() => Err("interrupted".into()),
        _ = terminate.recv() => Err("terminated".into()),
    };
    match outcome {
        Ok(report) => {
            println!("uhaha-chaos: {}", report.line);
            ExitCode::from(report.exit_code() as u8)
        }
        Err(e) => {
            eprintln!("uhaha-chaos: the run could not be carried out: {e}");
            ExitCode::from(2)
        }
    }
}
