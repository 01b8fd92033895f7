//! uhaha's command line: the same flags, names and defaults as the Go
//! framework, so that its users need to learn nothing new.
//!
//! Differences, on purpose: node ids are numbers (`-n 1`); long flags take
//! two dashes (`--auth`), as is usual for Rust programs; `-h` also lists the
//! service's commands; flags that do not go together, and values out of
//! range, are clap's usage errors (exit status 2), pointing at the flag.
//!
//! Nothing here exits the process: [`parse`] returns what the command line
//! asks for, or clap's error, and `serve()` decides.

use super::config::{Config, LogLevel};
use crate::command::help::commands_section;
use crate::command::CommandTable;
use crate::machine::Machine;
use crate::raft::Redirect;
use crate::server::resp::Limits;
use clap::{ArgAction, CommandFactory, FromArgMatches, Parser};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The flags. Help texts follow uhaha's usage screen. No argument group of
/// its own: its name would clash with a program's flags named `Flags`.
#[derive(Debug, Parser)]
#[command(disable_help_flag = true, disable_version_flag = true)]
#[group(skip)]
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
        value_parser = |name: &str| name.parse::<LogLevel>(),
        help_heading = "Basic options"
    )]
    level: LogLevel,
    /// Log format [human, json]: json writes one object per line
    #[arg(
        long = "log-format",
        value_name = "format",
        default_value = "human",
        value_parser = ["human", "json"],
        help_heading = "Basic options"
    )]
    log_format: String,

    /// Path to TLS certificate
    #[arg(
        long = "tls-cert",
        value_name = "path",
        requires = "tls_key",
        help_heading = "Security options"
    )]
    tls_cert: Option<PathBuf>,
    /// Path to TLS private key
    #[arg(
        long = "tls-key",
        value_name = "path",
        requires = "tls_cert",
        help_heading = "Security options"
    )]
    tls_key: Option<PathBuf>,
    /// CA certificate that nodes verify each other's certificates with
    /// (default: the certificates in --tls-cert)
    #[arg(
        long = "tls-ca",
        value_name = "path",
        requires = "tls_cert",
        help_heading = "Security options"
    )]
    tls_ca: Option<PathBuf>,
    /// Seconds a new connection may take to send its first request (TLS
    /// handshake included) before it is closed
    #[arg(
        long = "handshake-timeout",
        value_name = "secs",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..),
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
        value_parser = host_and_port,
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
    /// machine's #[tick] method on every node (machines without one never
    /// tick)
    #[arg(
        long = "tick",
        value_name = "ms",
        default_value_t = 200,
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = "Advanced options"
    )]
    tick: u64,
    /// Snapshot (and compact the log) when the log since the last snapshot
    /// has grown to this percentage of that snapshot's size
    #[arg(
        long = "snapshot-growth",
        value_name = "percent",
        default_value_t = 100,
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = "Advanced options"
    )]
    snapshot_growth: u64,
    /// ...and to at least this size (bytes, or with KB, MB, GB)
    #[arg(
        long = "snapshot-min-log",
        value_name = "size",
        default_value = "8MB",
        value_parser = byte_size,
        help_heading = "Advanced options"
    )]
    snapshot_min_log: u64,
    /// Snapshot every this many commands instead, as uhaha does
    #[arg(
        long = "snapshot-logs",
        value_name = "n",
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = "Advanced options"
    )]
    snapshot_logs: Option<u64>,
    /// How many snapshot files to keep: the newest and the ones before it
    #[arg(
        long = "snapshot-keep",
        value_name = "n",
        default_value_t = 2,
        value_parser = clap::value_parser!(u64).range(1..),
        help_heading = "Advanced options"
    )]
    snapshot_keep: u64,
    /// Answer TRY <leader> instead of MOVED 0 <leader> on followers
    #[arg(long = "try-errors", hide = true)]
    try_errors: bool,
    /// Start a new single-node cluster from a snapshot file
    #[arg(
        long = "restore",
        value_name = "path",
        conflicts_with = "join",
        help_heading = "Advanced options"
    )]
    restore: Option<PathBuf>,
}

/// What the command line asks for.
pub enum Invocation<A> {
    /// Run a node with this config, logging as asked, and the program's
    /// own flags.
    Run(Box<Config>, Logging, A),
    /// Print the version (`-v`).
    Version,
}

/// No flags of the program's own.
#[derive(clap::Args)]
pub struct NoFlags {}

/// Parses the process's arguments, as uhaha does: the config of a node to
/// run and the program's own flags `A` (shown in `-h` under
/// "<name> options"), a request for the version, or clap's error (which
/// also carries `-h`'s help screen). `version` is the version line.
pub fn parse<M: Machine, A: clap::Args>(
    table: &CommandTable,
    version: &str,
) -> Result<Invocation<A>, clap::Error> {
    let about = version.replacen(" version ", " version: ", 1);
    // The program's flags first: a doc comment on their struct would
    // otherwise replace the about line.
    let command =
        A::augment_args(Flags::command().next_help_heading(format!("{} options", M::NAME)))
            .name(M::NAME)
            .about(about)
            .long_about(None)
            .override_usage(format!("{} [-n id] [-a addr] [options]", M::NAME))
            .after_help(commands_section(table));
    let matches = command.try_get_matches()?;
    let flags = Flags::from_arg_matches(&matches)?;
    if flags.version {
        return Ok(Invocation::Version);
    }
    let program = A::from_arg_matches(&matches)?;
    let level = flags.level;
    let config = Config {
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
        tick: Duration::from_millis(flags.tick),
        snapshot_logs: flags.snapshot_logs,
        snapshot_growth: flags.snapshot_growth,
        snapshot_min_log: flags.snapshot_min_log,
        snapshot_keep: usize::try_from(flags.snapshot_keep).unwrap_or(usize::MAX),
        restore: flags.restore,
        tls_cert: flags.tls_cert,
        tls_key: flags.tls_key,
        tls_ca: flags.tls_ca,
        handshake_timeout: Duration::from_secs(flags.handshake_timeout),
        limits: Limits::default(),
        log: Some(level),
    };
    let logging = Logging {
        level,
        json: flags.log_format == "json",
    };
    Ok(Invocation::Run(Box::new(config), logging, program))
}

/// An address to advertise: `host:port`, as uhaha requires.
fn host_and_port(addr: &str) -> Result<String, String> {
    match addr.rsplit_once(':') {
        None => Err("missing port number".into()),
        Some((_, port)) if port.parse::<u16>().is_err() => Err("port number invalid".into()),
        Some(_) => Ok(addr.to_string()),
    }
}

/// How a node logs.
pub struct Logging {
    /// One of uhaha's log levels (`-l`).
    pub level: LogLevel,
    /// One JSON object per line (`--log-format json`), for log shippers,
    /// instead of the human format.
    pub json: bool,
}

/// Logs to stderr at one of uhaha's log levels, mapped onto tracing's,
/// refined by `RUST_LOG`'s directives (`openraft=info,uhaha::raft=debug`),
/// in the format asked for.
pub fn init_logging(logging: &Logging) {
    let rust_log = std::env::var("RUST_LOG").ok();
    let Some(targets) = log_targets(logging.level, rust_log.as_deref()) else {
        return;
    };
    let targets = targets.unwrap_or_else(|(targets, e)| {
        eprintln!("RUST_LOG ignored: {e}");
        targets
    });
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(targets);
    if logging.json {
        // A subscriber the program installed first decides.
        let _ = registry.with(layer.json()).try_init();
    } else {
        let human = layer
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false);
        let _ = registry.with(human).try_init();
    }
}

/// What is logged at uhaha level `level` (`None`: nothing, `-l silent`),
/// with `rust_log`'s directives on top; when they do not parse, the
/// level's alone and why.
fn log_targets(
    level: LogLevel,
    rust_log: Option<&str>,
) -> Option<Result<Targets, (Targets, String)>> {
    use tracing::Level;
    // openraft narrates every step at INFO and more at DEBUG: `verb` (Go
    // uhaha's level between info and debug) shows the node's and the
    // service's debug lines with openraft's narration, `debug` openraft's
    // debug lines too, and the others keep openraft to warnings.
    let (filter, raft_level) = match level {
        LogLevel::Debug => (Level::DEBUG, Level::DEBUG),
        LogLevel::Verb => (Level::DEBUG, Level::INFO),
        LogLevel::Info => (Level::INFO, Level::WARN),
        LogLevel::Warn => (Level::WARN, Level::WARN),
        LogLevel::Silent => return None,
    };
    let base = Targets::new()
        .with_target("openraft", raft_level)
        .with_default(filter);
    let Some(directives) = rust_log.filter(|d| !d.trim().is_empty()) else {
        return Some(Ok(base));
    };
    Some(match directives.parse::<Targets>() {
        Ok(refined) => {
            let default = refined.default_level();
            let mut targets = base.with_targets(refined);
            if let Some(level) = default {
                targets = targets.with_default(level);
            }
            Ok(targets)
        }
        Err(e) => Err((base, format!("{directives:?}: {e}"))),
    })
}

/// Parses a size: bytes, or a number with `KB`, `MB` or `GB` (powers of
/// 1024, any case, the `B` optional).
fn byte_size(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let digits = upper.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let shift = match upper[digits.len()..].trim_end_matches('B') {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        _ => return Err(format!("{text:?} is not a size (for example 8MB)")),
    };
    digits
        .trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{text:?} is not a size (for example 8MB)"))
}

#[cfg(test)]
mod tests {
    use super::{byte_size, log_targets, LogLevel};
    use tracing::Level;

    #[test]
    fn levels_have_go_uhaha_names() {
        assert_eq!("verbose".parse(), Ok(LogLevel::Verb));
        assert_eq!("notice".parse(), Ok(LogLevel::Info));
        assert_eq!("quiet".parse(), Ok(LogLevel::Silent));
        assert!("loud".parse::<LogLevel>().is_err());
    }

    #[test]
    fn rust_log_refines_the_level() {
        let on = |level: &str, rust_log, target, at| {
            let targets = log_targets(level.parse().unwrap(), rust_log)
                .unwrap()
                .unwrap();
            targets.would_enable(target, &at)
        };
        assert!(!on("info", None, "openraft::core", Level::INFO));
        assert!(on("verb", None, "openraft::core", Level::INFO));
        assert!(!on("verb", None, "openraft::core", Level::DEBUG));
        assert!(on("verb", None, "uhaha::raft", Level::DEBUG));
        assert!(on("debug", None, "openraft::core", Level::DEBUG));
        assert!(on("info", None, "uhaha::raft", Level::INFO));
        assert!(!on("info", None, "uhaha::raft", Level::DEBUG));
        assert!(on(
            "info",
            Some("openraft=info"),
            "openraft::core",
            Level::INFO
        ));
        assert!(on(
            "info",
            Some("uhaha::raft=debug"),
            "uhaha::raft::x",
            Level::DEBUG
        ));
        assert!(!on(
            "info",
            Some("uhaha::raft=debug"),
            "uhaha::server",
            Level::DEBUG
        ));
        assert!(on("info", Some("debug"), "uhaha::server", Level::DEBUG));
        assert!(log_targets(LogLevel::Silent, Some("debug")).is_none());
        let (kept, why) = log_targets(LogLevel::Warn, Some("uhaha=loud"))
            .unwrap()
            .unwrap_err();
        assert!(
            kept.would_enable("uhaha", &Level::WARN) && why.contains("loud"),
            "{why}"
        );
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(byte_size("8MB"), Ok(8 << 20));
        assert_eq!(byte_size("512k"), Ok(512 << 10));
        assert_eq!(byte_size("1 GB"), Ok(1 << 30));
        assert_eq!(byte_size("4096"), Ok(4096));
        assert!(byte_size("8TB").is_err());
        assert!(byte_size("MB").is_err());
        assert!(byte_size("99999999999GB").is_err());
    }
}
