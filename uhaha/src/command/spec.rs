//! The command table: what the macro knows about each user command, kept as
//! `'static` data so that dispatch, `HELP`, `COMMAND` and `-h` all read the
//! same description.

/// Where a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Goes through the Raft log and runs on every node, in log order.
    Write,
    /// Runs on one node against its applied state.
    Read,
    /// Runs on the node that received it, outside the log (built-ins such as
    /// `PING`).
    Local,
    /// A user's `#[intermediate]` command: runs on the node that received
    /// it, outside the log and without the state, and answers or hands the
    /// client another command to run instead.
    Intermediate,
}

/// How many values a parameter takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly one value.
    Required,
    /// Zero or one value (an `Option<T>` parameter, trailing).
    Optional,
    /// Zero or more values (a `Vec<T>` parameter, last).
    Variadic,
}

/// One parameter of a command, as shown in help.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// The parameter's name in the method's signature.
    pub name: &'static str,
    /// How many values it takes.
    pub arity: Arity,
}

/// Everything the runtime needs to know about one command.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// The command's name, upper-case (`TICKET`).
    pub name: &'static str,
    /// Write, read or intermediate.
    pub kind: Kind,
    /// Its parameters in order (the context parameter is not one).
    pub params: &'static [Param],
    /// The method's doc comment, with the `///` markers removed.
    pub doc: &'static str,
    /// Which parameter holds the command's key (`key = "..."` on the
    /// marker), for cluster clients that route by key.
    pub key: Option<usize>,
}

impl CommandSpec {
    /// The fewest arguments the command takes, its name not counted.
    pub fn min_args(&self) -> usize {
        self.params
            .iter()
            .filter(|p| p.arity == Arity::Required)
            .count()
    }

    /// The most arguments the command takes, or `None` when it is variadic.
    pub fn max_args(&self) -> Option<usize> {
        if self.params.iter().any(|p| p.arity == Arity::Variadic) {
            None
        } else {
            Some(self.params.len())
        }
    }

    /// Whether `n` arguments (the name not counted) fit this command.
    pub fn accepts(&self, n: usize) -> bool {
        n >= self.min_args() && self.max_args().is_none_or(|max| n <= max)
    }

    /// Redis's arity number: the count with the name when fixed, its
    /// negated minimum when not.
    pub fn redis_arity(&self) -> i64 {
        let min = self.min_args() as i64 + 1;
        match self.max_args() {
            Some(max) if max + 1 == min as usize => min,
            _ => -min,
        }
    }

    /// The usage line, e.g. `SET key value [seconds]` or `DEL key [key ...]`.
    pub fn usage(&self) -> String {
        let mut out = String::from(self.name);
        for p in self.params {
            out.push(' ');
            match p.arity {
                Arity::Required => out.push_str(p.name),
                Arity::Optional => {
                    out.push('[');
                    out.push_str(p.name);
                    out.push(']');
                }
                Arity::Variadic => {
                    out.push('[');
                    out.push_str(p.name);
                    out.push_str(" ...]");
                }
            }
        }
        out
    }

    /// The first paragraph of the doc comment, on one line.
    pub fn summary(&self) -> String {
        summary_of(self.doc)
    }
}

/// The first paragraph of a doc text, its lines joined by spaces.
pub fn summary_of(doc: &str) -> String {
    doc.trim()
        .split("\n\n")
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
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
                name: "value",
                arity: Arity::Required,
            },
            Param {
                name: "seconds",
                arity: Arity::Optional,
            },
        ],
        doc: " Sets a key.\n more words.\n\n Details.",
        key: Some(0),
    };
    const DEL: CommandSpec = CommandSpec {
        name: "DEL",
        kind: Kind::Write,
        params: &[
            Param {
                name: "key",
                arity: Arity::Required,
            },
            Param {
                name: "key",
                arity: Arity::Variadic,
            },
        ],
        doc: "",
        key: Some(1),
    };

    #[test]
    fn arity_follows_parameters() {
        assert_eq!((SET.min_args(), SET.max_args()), (2, Some(3)));
        assert!(SET.accepts(2) && SET.accepts(3) && !SET.accepts(1) && !SET.accepts(4));
        assert_eq!(SET.redis_arity(), -3);
        assert_eq!((DEL.min_args(), DEL.max_args()), (1, None));
        assert!(DEL.accepts(100));
        assert_eq!(DEL.redis_arity(), -2);
    }

    #[test]
    fn usage_and_summary() {
        assert_eq!(SET.usage(), "SET key value [seconds]");
        assert_eq!(DEL.usage(), "DEL key [key ...]");
        assert_eq!(SET.summary(), "Sets a key. more words.");
    }
}
