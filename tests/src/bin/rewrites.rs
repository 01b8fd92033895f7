//! A test service for `#[intermediate]` commands and command rewriting:
//! commands that rewrite into each other, into reads and writes, into
//! nothing, and one that reports the connection it came from. Its program
//! leaves a file in the node's directory when it is ready, and sets
//! `started:<id>` through its own node once the node serves. Its version
//! carries a build id. Its observer logs the commands it sees, and is stuck
//! for good once it sees `SET stuck ...`.

use std::collections::BTreeMap;
use uhaha::prelude::*;

/// Keys, and intermediates around them.
#[uhaha::machine(name = "rewrites", version = "0.0.1")]
#[derive(Default)]
struct Rewrites {
    keys: BTreeMap<String, String>,
}

#[uhaha::machine]
impl Rewrites {
    /// Sets a key.
    #[write]
    fn set(&mut self, key: String, value: String) {
        self.keys.insert(key, value);
    }

    /// Returns a key's value, or nil.
    #[read]
    fn get(&self, key: String) -> Option<String> {
        self.keys.get(&key).cloned()
    }

    /// Rewrites itself `n` times, then replies `done`.
    #[intermediate]
    fn rewrite(n: u32) -> Intermediate {
        match n {
            0 => Intermediate::Reply(Reply::bulk("done")),
            n => Intermediate::command(["REWRITE".to_string(), (n - 1).to_string()]),
        }
    }

    /// Answers with the error `kind` names: notleader, syntax, invalid,
    /// wrongtype or moved (a code the framework reserves).
    #[intermediate]
    fn fail(kind: String) -> Result<Intermediate, uhaha::CommandError> {
        use uhaha::CommandError;
        Err(match kind.as_str() {
            "notleader" => CommandError::NotLeader,
            "syntax" => CommandError::Syntax,
            "invalid" => CommandError::InvalidArgument,
            "wrongtype" => CommandError::code("WRONGTYPE", "Operation against a key"),
            _ => CommandError::code("MOVED", "0 127.0.0.1:1"),
        })
    }

    /// A write that says it needs the leader: it runs on every node.
    #[write]
    fn fail_write(&mut self) -> Result<(), uhaha::CommandError> {
        Err(uhaha::CommandError::NotLeader)
    }

    /// Rewrites itself forever.
    #[intermediate(name = "LOOP")]
    fn forever() -> Intermediate {
        Intermediate::command(["LOOP"])
    }

    /// Returns an empty command.
    #[intermediate]
    fn empty() -> Intermediate {
        Intermediate::Command(Vec::new())
    }

    /// Reads a key under another name, through the read path.
    #[intermediate]
    fn alias(key: String) -> Intermediate {
        Intermediate::command(["GET", &key])
    }

    /// Sets a key to this connection's id and address, after a pause on the
    /// receiving node.
    #[intermediate]
    async fn whoami(conn: &Conn, key: String, pause_ms: Option<u64>) -> Intermediate {
        let id = conn.id();
        tokio::time::sleep(std::time::Duration::from_millis(pause_ms.unwrap_or(0))).await;
        Intermediate::command(["SET".to_string(), key, format!("{id} {}", conn.addr())])
    }
}

fn main() {
    uhaha::Node::<Rewrites>::builder()
        .build_id("rewrites-build-7")
        .observe(|seen| {
            let args: Vec<String> = seen
                .args()
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            match args.as_slice() {
                [ping] if ping.eq_ignore_ascii_case("PING") => {}
                [set, stuck, ..] if set == "SET" && stuck == "stuck" => loop {
                    std::thread::park();
                },
                _ => {
                    let outcome = if seen.reply().is_error() {
                        "error"
                    } else {
                        "ok"
                    };
                    uhaha::tracing::info!(
                        "observed {}: {outcome} from {}",
                        args.join(" "),
                        seen.addr()
                    );
                }
            }
        })
        .on_data_dir(|dir| {
            std::fs::write(dir.join("program.txt"), "the program's own file").unwrap();
        })
        .on_serving(|node| {
            tokio::spawn(async move {
                let mut client = node.client().await.unwrap();
                let id = node.id().to_string();
                let key = format!("started:{id}");
                client.call(&["SET", &key, &id]).await.unwrap();
            });
        })
        .serve()
}
