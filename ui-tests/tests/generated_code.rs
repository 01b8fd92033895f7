//! The code `#[uhaha::machine]` generates is held to the lints users turn
//! on: this file is built by `cargo clippy --all-targets -- -D warnings`,
//! with pedantic lints on, and its tests drive the generated `check`.

#![warn(clippy::pedantic, unreachable_pub, unused_qualifications)]
// Commands take `self` and owned arguments because the DSL says so; these
// two pedantic lints judge the user's signatures, not the generated code.
#![allow(clippy::unused_self, clippy::needless_pass_by_value)]

use bytes::Bytes;
use std::collections::BTreeMap;
use uhaha::__private::{Args, Commands};
use uhaha::prelude::*;

/// Every shape of command signature.
#[uhaha::machine(name = "lint", version = "1.0.0")]
#[derive(Default)]
pub struct Lint {
    keys: BTreeMap<String, Bytes>,
}

#[uhaha::machine]
impl Lint {
    /// Nothing.
    #[write]
    fn nothing(&mut self) {}

    /// Nothing, said out loud.
    #[write]
    #[allow(clippy::unused_unit)]
    fn unit(&mut self) -> () {}

    /// A write with every arity and the context in the middle.
    #[write(name = "put")]
    fn set(&mut self, key: String, ctx: &mut Ctx, value: Bytes, _ttl: Option<u64>) -> usize {
        let _ = ctx.now();
        self.keys.insert(key, value);
        self.keys.len()
    }

    /// Drops every key at each tick; not a command.
    #[tick]
    fn expire(&mut self, ctx: &mut Ctx) {
        let _ = ctx.now();
        self.keys.clear();
    }

    /// A write that only reads the context.
    #[write]
    fn del(&mut self, _ctx: &Ctx, keys: Vec<String>) -> i64 {
        keys.iter()
            .map(|k| i64::from(self.keys.remove(k).is_some()))
            .sum()
    }

    /// A read with the context.
    #[read]
    fn get(&self, ctx: &Ctx, key: String) -> Option<Bytes> {
        let _ = ctx.boot_time();
        self.keys.get(&key).cloned()
    }

    /// A fallible read.
    #[read]
    fn strlen(&self, key: String) -> Result<usize, String> {
        self.keys
            .get(&key)
            .map(Bytes::len)
            .ok_or_else(|| format!("no such key {key}"))
    }

    /// An opaque reply type.
    #[read]
    fn size(&self) -> impl IntoReply {
        self.keys.len()
    }
}

/// A machine with reads only, so `write` has no arms.
#[uhaha::machine]
#[derive(Default)]
pub struct ReadsOnly;

#[uhaha::machine]
impl ReadsOnly {
    /// Always one.
    #[read]
    fn one(&self) -> i64 {
        1
    }
}

/// Derives before the attribute, a serde container attribute, and
/// commands and a tick named like the `Commands` trait's own functions.
#[derive(Default)]
#[uhaha::machine]
#[serde(default)]
pub struct Shadows {
    n: i64,
}

#[uhaha::machine]
impl Shadows {
    /// Named like `Commands::write`.
    #[write]
    fn write(&mut self, n: i64) {
        self.n = n;
    }

    /// Named like `Commands::read`.
    #[read]
    fn read(&self) -> i64 {
        self.n
    }

    /// Named like `Commands::check`.
    #[read]
    fn check(&self) -> bool {
        true
    }

    /// Named like `Commands::tick`, and without the context.
    #[tick]
    fn tick(&mut self) {
        self.n += 1;
    }
}

/// A user's own serde derive is kept; the macro derives the other trait.
#[uhaha::machine]
#[derive(Default, serde::Serialize)]
pub struct HalfDerived {
    n: i64,
}

#[uhaha::machine]
impl HalfDerived {
    /// The number.
    #[read]
    fn n(&self) -> i64 {
        self.n
    }

    /// A tick that only reads the context.
    #[tick]
    fn remember(&mut self, ctx: &Ctx) {
        self.n = i64::from(ctx.boot_time() < ctx.now());
    }
}

/// Intermediates in every form and a catch-all, all on the node that
/// received the command.
#[uhaha::machine]
#[derive(Default)]
pub struct Local;

#[uhaha::machine]
impl Local {
    /// A synchronous intermediate with the connection and every arity.
    #[intermediate]
    fn stamp(conn: &Conn, key: String, _at: Option<u64>) -> Intermediate {
        Intermediate::command(["SET".to_owned(), key, conn.id().to_string()])
    }

    /// An `async` intermediate that may fail.
    #[intermediate]
    async fn fetch(keys: Vec<String>) -> Result<Intermediate, String> {
        let first = std::future::ready(keys.into_iter().next())
            .await
            .ok_or("no key")?;
        Ok(Intermediate::command(["GET".to_owned(), first]))
    }

    /// An intermediate that only replies.
    #[intermediate(name = "ANSWER")]
    fn answer() -> i64 {
        42
    }

    /// Every other command.
    #[catch_all]
    async fn unknown(_conn: &Conn, cmd: Vec<Bytes>) -> Reply {
        let name = std::future::ready(String::from_utf8_lossy(&cmd[0]).into_owned()).await;
        Reply::error(format_args!("unknown {name}"))
    }
}

/// A machine without commands.
#[uhaha::machine]
#[derive(Default)]
pub struct Empty;

#[uhaha::machine]
impl Empty {}

fn check<M: Commands>(index: usize, values: &[&str]) -> Result<(), String> {
    let values: Vec<Bytes> = values
        .iter()
        .map(|v| Bytes::copy_from_slice(v.as_bytes()))
        .collect();
    M::check(index, Args::new(&values)).map_err(|e| e.to_string())
}

#[test]
fn check_reads_every_argument_and_nothing_else() {
    let names: Vec<&str> = Lint::COMMANDS.iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        ["NOTHING", "UNIT", "PUT", "DEL", "GET", "STRLEN", "SIZE"]
    );
    assert_eq!(Lint::COMMANDS[2].usage(), "PUT key value [ttl]");
    assert_eq!(check::<Lint>(2, &["k", "v"]), Ok(()));
    assert_eq!(
        check::<Lint>(2, &["k", "v", "-1"]),
        Err("ERR value is not an integer or out of range".to_owned())
    );
    assert_eq!(check::<Lint>(3, &[]), Ok(()));
    assert_eq!(check::<ReadsOnly>(0, &[]), Ok(()));
    assert_eq!(
        check::<Shadows>(0, &["x"]),
        Err("ERR value is not an integer or out of range".to_owned())
    );
    assert!(Empty::COMMANDS.is_empty());
    assert_eq!(
        check::<Empty>(0, &[]),
        Err("ERR unknown command".to_owned())
    );
}
