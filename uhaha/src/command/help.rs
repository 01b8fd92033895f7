//! Describing commands to people and to tools: `HELP`, the Commands section
//! of `-h`, and Redis 7's `COMMAND INFO` and `COMMAND DOCS`, which redis-cli
//! reads at start-up for its `help <command>` and its argument hints.

use super::spec::{summary_of, Arity, CommandSpec, Kind, Param};
use super::table::CommandTable;
use super::Reply;

/// The lines of `HELP`: each command's usage, then its description
/// indented; for one command, its whole doc text.
pub fn help_lines<'a>(specs: impl IntoIterator<Item = &'a CommandSpec>, full: bool) -> Vec<String> {
    let mut lines = Vec::new();
    for spec in specs {
        lines.push(spec.usage());
        let text = if full {
            spec.doc.trim().to_string()
        } else {
            spec.summary()
        };
        lines.extend(
            text.lines()
                .filter(|l| !l.trim().is_empty() || full)
                .map(|l| format!("    {}", l.trim())),
        );
    }
    lines
}

/// The Commands section that `-h` prints after the options.
pub fn commands_section(table: &CommandTable) -> String {
    let mut out = String::from("Commands:\n");
    for line in help_lines(table.specs(), false) {
        out.push_str("  ");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

fn status_list(items: &[&str]) -> Reply {
    Reply::Set(items.iter().map(|s| Reply::Status(s.to_string())).collect())
}

/// Where a command's keys are, as `COMMAND` reports them: the first key's
/// argument position, the last's (negative: counted from the end), and
/// the step between keys; all 0 for a command without keys.
///
/// Cluster clients (redis-py's `RedisCluster`, for one) route a command
/// by the slot of its key, read from these positions, and refuse to send
/// a command whose key they cannot find. Every slot of a uhaha cluster
/// lives on the leader, so any declared key routes there.
fn key_positions(spec: &CommandSpec) -> [i64; 3] {
    key_range(spec.params, spec.key)
}

/// The positions of the keys when parameter `key` (an index into
/// `params`) holds them: one key, or every remaining argument when the
/// parameter is variadic.
fn key_range(params: &[Param], key: Option<usize>) -> [i64; 3] {
    match key.map(|i| (i as i64 + 1, params[i].arity)) {
        None => [0, 0, 0],
        Some((first, Arity::Variadic)) => [first, -1, 1],
        Some((first, _)) => [first, first, 1],
    }
}

/// One element of `COMMAND` / `COMMAND INFO`, in Redis 7's ten fields.
pub fn command_info(spec: &CommandSpec) -> Reply {
    let [first_key, last_key, step] = key_positions(spec);
    let (flags, categories): (&[&str], &[&str]) = match spec.kind {
        Kind::Write => (&["write"], &["@write"]),
        Kind::Read => (&["readonly"], &["@read"]),
        Kind::Local => (&["fast"], &["@fast", "@connection"]),
        // It may turn into a write: no `readonly`, so that cluster clients
        // send it to the leader.
        Kind::Intermediate => (&[], &["@slow"]),
    };
    Reply::Array(vec![
        Reply::bulk(spec.name.to_ascii_lowercase()),
        Reply::Integer(spec.redis_arity()),
        status_list(flags),
        Reply::Integer(first_key),
        Reply::Integer(last_key),
        Reply::Integer(step),
        status_list(categories),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

/// One entry of `COMMAND DOCS`: the command's name and its doc map.
pub fn command_docs(spec: &CommandSpec, since: &str) -> (Reply, Reply) {
    let group = match spec.kind {
        Kind::Local => "connection",
        _ => "generic",
    };
    let arguments = spec
        .params
        .iter()
        .map(|p| {
            let mut fields = vec![
                (Reply::bulk("name"), Reply::bulk(p.name)),
                (Reply::bulk("type"), Reply::bulk("string")),
            ];
            let flags: &[&str] = match p.arity {
                Arity::Required => &[],
                Arity::Optional => &["optional"],
                Arity::Variadic => &["optional", "multiple"],
            };
            if !flags.is_empty() {
                fields.push((Reply::bulk("flags"), status_list(flags)));
            }
            Reply::Map(fields)
        })
        .collect();
    let mut doc = vec![
        (Reply::bulk("summary"), Reply::bulk(summary_of(spec.doc))),
        (Reply::bulk("since"), Reply::bulk(since.to_string())),
        (Reply::bulk("group"), Reply::bulk(group)),
    ];
    if !spec.params.is_empty() {
        doc.push((Reply::bulk("arguments"), Reply::Array(arguments)));
    }
    (Reply::bulk(spec.name.to_ascii_lowercase()), Reply::Map(doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: CommandSpec = CommandSpec {
        name: "SET",
        kind: Kind::Write,
        params: &[
            Param {
                name: "key",
                arity: Arity::Required,
            },
            Param {
                name: "seconds",
                arity: Arity::Optional,
            },
        ],
        doc: "Sets a key.\n\nMore about it.",
        key: Some(0),
    };

    #[test]
    fn help_shows_usage_and_summary_or_everything() {
        assert_eq!(
            help_lines([&SET], false),
            vec!["SET key [seconds]", "    Sets a key."]
        );
        assert_eq!(
            help_lines([&SET], true),
            vec![
                "SET key [seconds]",
                "    Sets a key.",
                "    ",
                "    More about it."
            ]
        );
    }

    #[test]
    fn command_info_has_redis_shape() {
        let Reply::Array(fields) = command_info(&SET) else {
            panic!()
        };
        assert_eq!(fields.len(), 10);
        assert_eq!(fields[0], Reply::bulk("set"));
        assert_eq!(fields[1], Reply::Integer(-2));
    }

    #[test]
    fn keys_are_reported_where_they_are_declared() {
        assert_eq!(key_range(SET.params, None), [0, 0, 0]);
        assert_eq!(key_range(SET.params, Some(0)), [1, 1, 1]);
        assert_eq!(key_range(SET.params, Some(1)), [2, 2, 1]);
        let keys = [Param {
            name: "keys",
            arity: Arity::Variadic,
        }];
        assert_eq!(key_range(&keys, Some(0)), [1, -1, 1]);
    }

    #[test]
    fn command_docs_lists_arguments_with_flags() {
        let (name, Reply::Map(doc)) = command_docs(&SET, "0.1.0") else {
            panic!()
        };
        assert_eq!(name, Reply::bulk("set"));
        assert_eq!(doc[0], (Reply::bulk("summary"), Reply::bulk("Sets a key.")));
        let Reply::Array(args) = &doc[3].1 else {
            panic!()
        };
        assert_eq!(args.len(), 2);
        let Reply::Map(second) = &args[1] else {
            panic!()
        };
        assert_eq!(second[2].1, status_list(&["optional"]));
    }
}
