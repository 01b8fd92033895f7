//! `#[intermediate]` methods in each form (sync and `async`, with and
//! without the connection, optional and variadic arguments, every kind of
//! result) and a `#[catch_all]` method, run through the generated table.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use uhaha::__private::{Args, Commands, Kind};
use uhaha::prelude::*;

/// Keys, and commands that prepare writes on the receiving node.
#[uhaha::machine]
#[derive(Default)]
struct Kv {
    keys: std::collections::BTreeMap<String, String>,
}

async fn lookup(name: &str) -> Option<String> {
    (name == "home").then(|| "/home/kv".to_string())
}

#[uhaha::machine]
impl Kv {
    /// Sets a key.
    #[write]
    fn set(&mut self, key: String, value: String) {
        self.keys.insert(key, value);
    }

    /// Sets a key to the connection's id.
    #[intermediate(name = "SETID")]
    fn set_id(conn: &Conn, key: String) -> Intermediate {
        Intermediate::command(["SET".to_string(), key, conn.id().to_string()])
    }

    /// Sets a key to a value looked up elsewhere, or fails.
    #[intermediate]
    async fn setlookup(key: String, name: Option<String>) -> Result<Intermediate, String> {
        let name = name.unwrap_or_else(|| "home".into());
        let value = lookup(&name).await.ok_or(format!("no {name}"))?;
        Ok(Intermediate::command(["SET".to_string(), key, value]))
    }

    /// Counts its arguments, without rewriting anything.
    #[intermediate(key = "first")]
    fn count(first: Bytes, rest: Vec<i64>) -> usize {
        let _ = first;
        1 + rest.len()
    }

    /// Replies with the reply type itself.
    #[intermediate]
    async fn greet(conn: &uhaha::Conn) -> Reply {
        Reply::Status(format!("hello {}", conn.id()))
    }

    /// Runs every unknown command as a `SET` of its name to its first argument.
    #[catch_all]
    async fn unknown(_conn: &Conn, cmd: Vec<String>) -> Result<Intermediate, &'static str> {
        match cmd.as_slice() {
            [name, value] => Ok(Intermediate::command(["SET", name, value])),
            _ => Err("unknown command"),
        }
    }
}

/// A machine without intermediates has the defaults.
#[uhaha::machine]
#[derive(Default)]
struct Plain;

#[uhaha::machine]
impl Plain {}

fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the test's futures never wait"),
    }
}

fn args(values: &[&str]) -> Vec<Bytes> {
    values.iter().map(|v| Bytes::from(v.to_string())).collect()
}

fn intermediate(index: usize, values: &[&str]) -> Result<Intermediate, String> {
    let conn = uhaha::__private::test_conn();
    let values = args(values);
    let future = Kv::intermediate(index, &conn, Args::new(&values)).map_err(|e| e.to_string())?;
    Ok(run(future))
}

fn main() {
    let kinds: Vec<(&str, Kind)> = Kv::COMMANDS.iter().map(|c| (c.name, c.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("SET", Kind::Write),
            ("SETID", Kind::Intermediate),
            ("SETLOOKUP", Kind::Intermediate),
            ("COUNT", Kind::Intermediate),
            ("GREET", Kind::Intermediate),
        ]
    );
    assert_eq!(Kv::COMMANDS[2].usage(), "SETLOOKUP key [name]");
    assert_eq!(Kv::COMMANDS[3].key, Some(0));
    assert_eq!(
        intermediate(2, &["k"]),
        Ok(Intermediate::command(["SET", "k", "/home/kv"]))
    );
    assert_eq!(
        intermediate(2, &["k", "work"]),
        Ok(Intermediate::Reply(Reply::error("no work")))
    );
    assert_eq!(
        intermediate(3, &["a", "1", "2"]),
        Ok(Intermediate::Reply(Reply::Integer(3)))
    );
    assert_eq!(
        intermediate(3, &["a", "x"]),
        Err("ERR value is not an integer or out of range".to_string())
    );
    assert_eq!(
        intermediate(4, &[]),
        Ok(Intermediate::Reply(Reply::Status("hello 0".into())))
    );
    assert_eq!(intermediate(0, &["k", "v"]).unwrap_err(), "ERR unknown command");

    let conn = uhaha::__private::test_conn();
    let cmd = args(&["color", "red"]);
    assert!(Kv::CATCH_ALL);
    let outcome = run(Kv::catch_all(&conn, Args::new(&cmd)).unwrap());
    assert_eq!(outcome, Intermediate::command(["SET", "color", "red"]));

    assert!(!Plain::CATCH_ALL);
    assert!(Plain::catch_all(&conn, Args::new(&cmd)).is_err());
    assert!(Plain::intermediate(0, &conn, Args::new(&cmd)).is_err());
    if std::env::args().count() > 100 {
        Kv::serve();
    }
}
