//! The built-in commands every node has, described like user commands so
//! that `HELP`, `COMMAND` and `-h` list them the same way.

use super::spec::{Arity, CommandSpec, Kind, Param};

/// A built-in command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    Auth,
    Barrier,
    Client,
    Cluster,
    Command,
    Echo,
    Health,
    Hello,
    Help,
    Info,
    Machine,
    Monitor,
    Ping,
    Quit,
    Raft,
    Reset,
    Select,
    Shutdown,
    Version,
}

const fn p(name: &'static str, arity: Arity) -> Param {
    Param { name, arity }
}

const fn spec(
    name: &'static str,
    kind: Kind,
    params: &'static [Param],
    doc: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        kind,
        params,
        doc,
        key: None,
    }
}

use Arity::{Optional, Required, Variadic};
use Kind::{Local, Read, Write};

/// Every built-in with its description, in alphabetical order.
pub const BUILTINS: &[(Builtin, CommandSpec)] = &[
    (
        Builtin::Auth,
        spec(
            "AUTH",
            Local,
            &[p("username", Optional), p("password", Required)],
            "Authenticates the connection with the node's --auth secret. A username is accepted and ignored.",
        ),
    ),
    (
        Builtin::Barrier,
        spec(
            "BARRIER",
            Write,
            &[],
            "Commits an empty write through the log: proves that this node leads a working cluster.",
        ),
    ),
    (
        Builtin::Client,
        spec(
            "CLIENT",
            Local,
            &[p("subcommand", Required), p("arg", Variadic)],
            "The connection and the node's connections: CLIENT SETNAME name, CLIENT GETNAME, CLIENT SETINFO LIB-NAME|LIB-VER value, CLIENT ID, CLIENT INFO, CLIENT LIST [TYPE type] [ID id ...]; see CLIENT HELP.",
        ),
    ),
    (
        Builtin::Cluster,
        spec(
            "CLUSTER",
            Local,
            &[p("subcommand", Optional), p("arg", Variadic)],
            "Redis Cluster emulation with one shard led by the Raft leader: CLUSTER INFO, CLUSTER NODES, CLUSTER SLOTS, CLUSTER SHARDS.",
        ),
    ),
    (
        Builtin::Command,
        spec(
            "COMMAND",
            Local,
            &[p("subcommand", Optional), p("name", Variadic)],
            "Describes the commands, as Redis 7 does: COMMAND, COMMAND COUNT, COMMAND LIST, COMMAND INFO [name ...], COMMAND DOCS [name ...].",
        ),
    ),
    (Builtin::Echo, spec("ECHO", Local, &[p("message", Required)], "Returns the message.")),
    (
        Builtin::Health,
        spec(
            "HEALTH",
            Local,
            &[],
            "Returns OK if the node is ready to serve (its log loaded, a member of its cluster, a leader known), as GET /readyz does; a CLUSTERDOWN error with the reason otherwise.",
        ),
    ),
    (
        Builtin::Hello,
        spec(
            "HELLO",
            Local,
            &[p("protover", Optional), p("option", Variadic)],
            "Switches the connection to RESP2 or RESP3 and describes the server, as Redis 7 does: HELLO [protover [AUTH username password] [SETNAME name]].",
        ),
    ),
    (
        Builtin::Help,
        spec(
            "HELP",
            Local,
            &[p("command", Optional)],
            "Lists every command with its arguments and description, or describes one command.",
        ),
    ),
    (
        Builtin::Info,
        spec(
            "INFO",
            Local,
            &[p("section", Variadic)],
            "Describes the node in Redis's INFO format: server, clients, memory, persistence, stats, replication, cluster, keyspace and raft sections.",
        ),
    ),
    (
        Builtin::Machine,
        spec(
            "MACHINE",
            Read,
            &[p("HUMAN", Optional)],
            "Returns the machine's boot time, current time and uptime, in nanoseconds or, with HUMAN, readable.",
        ),
    ),
    (
        Builtin::Monitor,
        spec(
            "MONITOR",
            Local,
            &[],
            "Streams every command the node processes, one line each, until the connection closes. A monitor that falls behind loses lines (INFO's monitor_dropped_lines counts them); commands never wait for it.",
        ),
    ),
    (
        Builtin::Ping,
        spec("PING", Local, &[p("message", Optional)], "Returns PONG, or the message if one is given."),
    ),
    (Builtin::Quit, spec("QUIT", Local, &[], "Closes the connection after replying OK.")),
    (
        Builtin::Raft,
        spec(
            "RAFT",
            Local,
            &[p("subcommand", Optional), p("arg", Variadic)],
            "The Raft cluster: RAFT LEADER, RAFT INFO [pattern ...], RAFT SERVER LIST|ADD|REMOVE|PROMOTE|DEMOTE, RAFT TRANSFER [id]; see RAFT HELP.",
        ),
    ),
    (
        Builtin::Reset,
        spec(
            "RESET",
            Local,
            &[],
            "Returns the connection to its initial state: RESP2, no name and, with --auth, not authenticated.",
        ),
    ),
    (
        Builtin::Select,
        spec(
            "SELECT",
            Local,
            &[p("index", Required)],
            "Selects database 0, the only one a node has.",
        ),
    ),
    (
        Builtin::Shutdown,
        spec("SHUTDOWN", Local, &[p("option", Variadic)], "Stops the node process."),
    ),
    (Builtin::Version, spec("VERSION", Local, &[], "Returns the service's name and version.")),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_sorted_and_reserved() {
        let names: Vec<_> = BUILTINS.iter().map(|(_, s)| s.name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for name in names {
            assert!(
                super::super::BUILTIN_NAMES.contains(&name),
                "{name} is not reserved"
            );
        }
    }
}
