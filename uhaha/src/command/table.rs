//! The command table: every command a node knows, user and built-in, looked
//! up by name in any case.

use super::builtin::{Builtin, BUILTINS};
use super::spec::CommandSpec;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A built-in command.
    Builtin(Builtin),
    /// The user command at this index of the machine's table.
    User(usize),
}

/// Every command of a node.
pub struct CommandTable {
    /// Each name's route and the position of its spec in `specs`.
    routes: HashMap<Box<[u8]>, (Route, usize), BuildHasherDefault<NameHasher>>,
    specs: Vec<(Route, &'static CommandSpec)>,
}

/// FNV-1a, for command names: every command is looked up once on the node
/// that receives it and once more on every node that applies it, and for
/// names of a few bytes the default SipHash costs more than the rest of
/// the lookup. Its resistance to chosen keys guards tables that clients
/// fill; this one is fixed when the node starts.
struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        NameHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl CommandTable {
    /// The table for a machine with these user commands.
    pub fn new(user: &'static [CommandSpec]) -> CommandTable {
        let mut specs: Vec<(Route, &'static CommandSpec)> = user
            .iter()
            .enumerate()
            .map(|(i, s)| (Route::User(i), s))
            .collect();
        specs.extend(BUILTINS.iter().map(|(b, s)| (Route::Builtin(*b), s)));
        let routes = specs
            .iter()
            .enumerate()
            .map(|(at, (r, s))| (s.name.as_bytes().into(), (*r, at)))
            .collect();
        CommandTable { routes, specs }
    }

    /// The command called `name`, in any case.
    pub fn lookup(&self, name: &[u8]) -> Option<Route> {
        self.find(name).map(|(route, _)| route)
    }

    /// The command called `name`, in any case, and the position of its spec
    /// among [`CommandTable::specs`] (see [`CommandTable::spec_at`]).
    pub fn find(&self, name: &[u8]) -> Option<(Route, usize)> {
        const SHORT: usize = 32;
        if name.len() <= SHORT {
            let mut buf = [0u8; SHORT];
            let upper = &mut buf[..name.len()];
            upper.copy_from_slice(name);
            upper.make_ascii_uppercase();
            self.routes.get(&*upper).copied()
        } else {
            self.routes.get(&*name.to_ascii_uppercase()).copied()
        }
    }

    /// The spec at position `at` among [`CommandTable::specs`].
    pub fn spec_at(&self, at: usize) -> &'static CommandSpec {
        self.specs[at].1
    }

    /// The description of a command.
    pub fn spec(&self, route: Route) -> &'static CommandSpec {
        self.specs
            .iter()
            .find(|(r, _)| *r == route)
            .map(|(_, s)| *s)
            .expect("every route has a spec")
    }

    /// Every command: the user's first, in their order, then the built-ins.
    pub fn specs(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.specs.iter().map(|(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Kind, Param};

    const USER: &[CommandSpec] = &[CommandSpec {
        name: "TICKET",
        kind: Kind::Write,
        params: &[] as &[Param],
        doc: "",
        key: None,
    }];

    #[test]
    fn lookup_ignores_case() {
        let table = CommandTable::new(USER);
        assert_eq!(table.lookup(b"ticket"), Some(Route::User(0)));
        assert_eq!(table.lookup(b"TiCkEt"), Some(Route::User(0)));
        assert_eq!(table.lookup(b"ping"), Some(Route::Builtin(Builtin::Ping)));
        assert_eq!(table.lookup(b"nope"), None);
        assert_eq!(table.lookup(&[b'x'; 100]), None);
        assert_eq!(table.spec(Route::User(0)).name, "TICKET");
        let (route, at) = table.find(b"Ping").unwrap();
        assert_eq!(
            (route, table.spec_at(at).name),
            (Route::Builtin(Builtin::Ping), "PING")
        );
    }
}
