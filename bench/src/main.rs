//! `uhaha-bench`: starts a cluster of an example service (or uses any RESP
//! server that is up), drives a write, read or mixed workload through many
//! pipelined connections, and reports throughput, exact latency
//! percentiles, each node's CPU and memory, and the disk's fsync rate.
//! See README.md.
//!
//! The modules, one concern each: [`cli`] (options and target specs),
//! [`workload`] (what is sent), [`client`] and [`scanner`] (the load
//! generator and its reply scanner), [`cluster`] (the system under test),
//! [`runner`] (one measurement, start to finish), [`compare`] (alternating
//! rounds), [`latency`], [`procstat`] and [`fsync_probe`] (the figures),
//! [`report`] (table and JSON).

mod cli;
mod client;
mod cluster;
mod compare;
mod fsync_probe;
mod latency;
mod procstat;
mod report;
mod runner;
mod scanner;
mod workload;

use clap::Parser;
use cli::{Cli, LoadArgs, Mode};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("uhaha-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let load = match &cli.mode {
        Mode::Run(r) => &r.load,
        Mode::Compare(c) => &c.load,
    };
    if let Some(dir) = &load.data_dir {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // The harness makes its data directories with `tempfile`, under
        // the system's temp dir, which TMPDIR names. Set here, before any
        // thread exists, where changing the environment is sound.
        std::env::set_var("TMPDIR", dir);
    }
    let rt = runtime(load)?;
    match &cli.mode {
        Mode::Run(args) => {
            let targets = args.targets()?;
            runner::preflight(&targets)?;
            let mut results = Vec::new();
            for target in &targets {
                results.push(runner::measure(&rt, target, &args.load)?);
            }
            print!("{}", report::run_table(&results));
            if let Some(path) = &args.load.json {
                report::write_json(
                    path,
                    &report::RunReport {
                        tool: "uhaha-bench",
                        version: env!("CARGO_PKG_VERSION"),
                        mode: "run",
                        results,
                    },
                )?;
            }
        }
        Mode::Compare(args) => {
            runner::preflight([&args.a, &args.b])?;
            let report = compare::compare(&rt, args)?;
            print!("{}", report::compare_table(&report));
            if let Some(path) = &args.load.json {
                report::write_json(path, &report)?;
            }
        }
    }
    Ok(())
}

/// The load generator's runtime: one thread by default, so that the client
/// takes at most one of the two cores from the nodes.
fn runtime(load: &LoadArgs) -> Result<tokio::runtime::Runtime, String> {
    let mut builder = if load.client_threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(load.client_threads.into());
        b
    };
    builder
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))
}
