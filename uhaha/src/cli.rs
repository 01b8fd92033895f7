//! uhaha's command line: the same flags, names and defaults as the Go
//! framework, so that its users need to learn nothing new.
//!
//! Differences, on purpose: node ids are numbers (`-n 1`); long flags take
//! two dashes (`--auth`), as is usual for Rust programs; `-h` also lists the
//! service's commands. Flags whose feature has not landed yet are refused
//! with a clear message instead of being ignored.

use crate::command::help::commands_section;
use crate::command::CommandTable;
use crate::machine::Machine;
use crate::node::Config;
use crate::raft::Redirect;
use crate::resp::Limits;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The flags. Help texts follow uhaha's usage screen.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
struct Flags {
    /// Display version
    #[arg(short = 'v', action = ArgAction::SetTrue, help_heading = "Basic options")]
    version: bool,
    /// Display help, this screen
    #[arg(short = 'h', long = "help", action = ArgAction::Help, help_heading = "Basic options")]
    help: Option<bool>,
    /// Bind to address
    #[arg(
        short = 'a',
        value_name = "addr",
        default_value = "127.0.0.1:11001",
        help_heading = "Basic options"
    )]
    addr: String,
    /// Node ID (a number)
    #[arg(
        short = 'n',
        value_name = "id",
        default_value_t = 1,
        help_heading = "Basic options"
    )]
    id: u64,
    /// Data directory
    #[arg(
        short = 'd',
        value_name = "dir",
        default_value = "data",
        help_heading = "Basic options"
    )]
    dir: PathBuf,
    /// Log level [debug, verb, info, warn, silent]
    #[arg(
        short = 'l',
        value_name = "level",
        default_value = "info",
        help_heading = "Basic options"
    )]
    level: String,

    /// Path to TLS certificate
    #[arg(
        long = "tls-cert",
        value_name = "path",
        help_heading = "Security options"
    )]
    tls_cert: Option<PathBuf>,
    /// Path to TLS private key
    #[arg(
        long = "tls-key",
        value_name = "path",
        help_heading = "Security options"
    )]
    tls_key: Option<PathBuf>,
    /// CA certificate that nodes verify each other's certificates with
    /// (default: the certificates in --tls-cert)
    #[arg(
        long = "tls-ca",
        value_name = "path",
        help_heading = "Security options"
    )]
    tls_ca: Option<PathBuf>,
    /// Seconds a new connection may take to send its first request (TLS
    /// handshake included) before it is closed
    #[arg(
        long = "handshake-timeout",
        value_name = "secs",
        default_value_t = 10,
        help_heading = "Security options"
    )]
    handshake_timeout: u64,
    /// Cluster authorization, shared by all servers and clients
    #[arg(long = "auth", value_name = "auth", help_heading = "Security options")]
    auth: Option<String>,

    /// Join a cluster using the leader address. Ignored if this server has
    /// already been added to a cluster.
    #[arg(
        short = 'j',
        long = "join",
        value_name = "addr",
        help_heading = "Networking options"
    )]
    join: Option<String>,
    /// Advertise address (default: network bound address)
    #[arg(
        long = "advertise",
        value_name = "addr",
        help_heading = "Networking options"
    )]
    advertise: Option<String>,

    /// When used with --join this server is added as a non-voter
    #[arg(long = "nonvoter", help_heading = "Advanced options")]
    nonvoter: bool,
    /// Do not fsync each write to disk: faster writes, but up to about a
    /// second of acknowledged writes may be lost if the machine or the
    /// process crashes
    #[arg(long = "nosync", help_heading = "Advanced options")]
    nosync: bool,
    /// Let any node serve read commands from its local state, possibly stale
    #[arg(long = "openreads", help_heading = "Advanced options")]
    openreads: bool,
    /// Accepted for compatibility: machine time always follows the leader's
    /// local clock (kept monotonic); no internet time is ever fetched
    #[arg(long = "localtime", help_heading = "Advanced options")]
    localtime: bool,
    /// How often the leader ticks, in milliseconds: each tick runs the
    /// machine's #[tick] method on every node
    #[arg(
        long = "tick",
        value_name = "ms",
        default_value_t = 200,
        help_heading = "Advanced options"
    )]
    tick: u64,
    /// Take a snapshot (and compact the log) every this many log entries
    #[arg(
        long = "snapshot-logs",
        value_name = "n",
        default_value_t = 10_000,
        help_heading = "Advanced options"
    )]
    snapshot_logs: u64,
    /// Answer TRY <leader> instead of MOVED 0 <leader> on followers
    #[arg(long = "try-errors", hide = true)]
    try_errors: bool,
    /// Start a new single-node cluster from a snapshot file
    #[arg(
        long = "restore",
        value_name = "path",
        help_heading = "Advanced options"
    )]
    restore: Option<PathBuf>,
}

/// Parses the process's arguments into a node configuration, printing the
/// version or help, or an error and exiting, as uhaha does. Also sets up
/// logging at the level asked for.
pub fn parse<M: Machine>(table: &CommandTable) -> Config {
    let command = Flags::command()
        .name(M::NAME)
        .about(format!("{} version: {}", M::NAME, M::VERSION))
        .override_usage(format!("{} [-n id] [-a addr] [options]", M::NAME))
        .after_help(commands_section(table));
    let matches = command.get_matches();
    let flags = Flags::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if flags.version {
        println!("{} version {}", M::NAME, M::VERSION);
        std::process::exit(0);
    }
    init_logging(&flags.level);
    check_combinations(&flags);
    if let Some(addr) = &flags.advertise {
        check_advertise(addr);
    }
    Config {
        id: flags.id,
        addr: flags.addr,
        advertise: flags.advertise,
        data_dir: flags.dir,
        join: flags.join,
        nonvoter: flags.nonvoter,
        auth: flags.auth,
        nosync: flags.nosync,
        openreads: flags.openreads,
        redirect: if flags.try_errors {
            Redirect::Try
        } else {
            Redirect::Moved
        },
        tick: Duration::from_millis(flags.tick.max(1)),
        snapshot_logs: flags.snapshot_logs.max(1),
        restore: flags.restore,
        tls_cert: flags.tls_cert,
        tls_key: flags.tls_key,
        tls_ca: flags.tls_ca,
        handshake_timeout: Duration::from_secs(flags.handshake_timeout.max(1)),
        limits: Limits::default(),
    }
}

/// Exits with uhaha's messages for flags that do not go together.
fn check_combinations(flags: &Flags) {
    let fail = |message: &str| -> ! {
        eprintln!("{message}");
        std::process::exit(1)
    };
    if flags.restore.is_some() && flags.join.is_some() {
        fail("flag --restore cannot be used with -j: a restored node starts a new cluster");
    }
    match (&flags.tls_cert, &flags.tls_key) {
        (Some(_), None) => fail("flag --tls-key cannot be empty when --tls-cert is provided"),
        (None, Some(_)) => fail("flag --tls-cert cannot be empty when --tls-key is provided"),
        _ => {}
    }
    if flags.tls_ca.is_some() && flags.tls_cert.is_none() {
        fail("flag --tls-ca needs --tls-cert and --tls-key");
    }
}

/// Exits unless an advertise address has a port, as uhaha checks.
fn check_advertise(addr: &str) {
    match addr.rsplit_once(':') {
        None => {
            eprintln!("flag --advertise is missing port number");
            std::process::exit(1);
        }
        Some((_, port)) if port.parse::<u16>().is_err() => {
            eprintln!("flag --advertise port number invalid");
            std::process::exit(1);
        }
        _ => {}
    }
}

/// Maps uhaha's log levels onto tracing's.
fn init_logging(level: &str) {
    let filter = match level {
        "debug" => tracing::Level::DEBUG,
        "verbose" | "verb" => tracing::Level::DEBUG,
        "notice" | "info" => tracing::Level::INFO,
        "warning" | "warn" => tracing::Level::WARN,
        "quiet" | "silent" => return,
        other => {
            eprintln!("invalid -loglevel: {other}");
            std::process::exit(1);
        }
    };
    // openraft narrates every step at INFO; keep it to warnings unless
    // debugging.
    let raft_level = if filter == tracing::Level::DEBUG {
        filter
    } else {
        tracing::Level::WARN
    };
    let targets = Targets::new()
        .with_target("openraft", raft_level)
        .with_default(filter);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false),
        )
        .with(targets)
        .init();
}
