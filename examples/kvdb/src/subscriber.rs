//! Redis' subscribed mode: after `SUBSCRIBE` or `PSUBSCRIBE` the connection
//! is hijacked, receives the messages that `PUBLISH` (a replicated write)
//! publishes on this node, and takes only the commands Redis allows in that
//! mode, until it unsubscribes from everything and goes back to normal
//! commands. Confirmations and messages are pushes in RESP3, arrays in
//! RESP2, as Redis sends them.
//!
//! A subscriber that falls behind by `uhaha::pubsub::Subscriber::MAX_QUEUED`
//! bytes is told so and disconnected; publishing never waits for it.

use uhaha::prelude::*;
use uhaha::pubsub::Subscriber;
use uhaha::{Hijacked, Protocol};

/// Runs a pub/sub command (`SUBSCRIBE`, `PSUBSCRIBE`, `UNSUBSCRIBE`,
/// `PUNSUBSCRIBE`, name first) on a connection that is not subscribed yet,
/// and stays in subscribed mode while it has subscriptions.
pub fn enter(conn: &Conn, cmd: Vec<Bytes>) -> Intermediate {
    let subscriber = conn.subscriber();
    Intermediate::hijack(move |client| serve(client, subscriber, cmd))
}

/// Serves the subscribed connection; hands it back to the node once it has
/// no subscription left.
async fn serve(
    mut client: Hijacked,
    mut subscriber: Subscriber,
    first: Vec<Bytes>,
) -> Option<Hijacked> {
    let mut next = Some(first);
    loop {
        if let Some(cmd) = next.take() {
            let quit = answer(&mut client, &mut subscriber, &cmd);
            client.flush().await.ok()?;
            if quit {
                return None;
            }
            if subscriber.count() == 0 {
                return Some(client);
            }
        }
        tokio::select! {
            cmd = client.read_command() => next = Some(cmd.ok()??),
            message = subscriber.recv() => {
                let Some(message) = message else {
                    let error = "ERR this subscriber fell behind and is disconnected";
                    let _ = client.send(&Reply::error(error)).await;
                    return None;
                };
                client.write(&message.to_reply());
                while let Some(message) = subscriber.try_recv() {
                    client.write(&message.to_reply());
                }
                client.flush().await.ok()?;
            }
        }
    }
}

/// Writes the replies to one command of subscribed mode; whether the
/// client quit.
fn answer(client: &mut Hijacked, subscriber: &mut Subscriber, cmd: &[Bytes]) -> bool {
    let name = String::from_utf8_lossy(&cmd[0]).to_ascii_lowercase();
    let args = &cmd[1..];
    match name.as_str() {
        "subscribe" | "psubscribe" if args.is_empty() => {
            client.write(&Reply::error(format!(
                "wrong number of arguments for '{name}' command"
            )));
        }
        "subscribe" | "psubscribe" => {
            for name_or_pattern in args {
                let count = match name.as_str() {
                    "subscribe" => subscriber.subscribe(name_or_pattern.clone()),
                    _ => subscriber.psubscribe(name_or_pattern.clone()),
                };
                client.write(&confirmation(&name, Some(name_or_pattern), count));
            }
        }
        "unsubscribe" | "punsubscribe" => {
            let by_pattern = name == "punsubscribe";
            let all: Vec<Bytes> = match (args.is_empty(), by_pattern) {
                (false, _) => args.to_vec(),
                (true, false) => subscriber.channels().cloned().collect(),
                (true, true) => subscriber.patterns().cloned().collect(),
            };
            if all.is_empty() {
                client.write(&confirmation(&name, None, subscriber.count()));
            }
            for name_or_pattern in &all {
                let count = match by_pattern {
                    false => subscriber.unsubscribe(name_or_pattern),
                    true => subscriber.punsubscribe(name_or_pattern),
                };
                client.write(&confirmation(&name, Some(name_or_pattern), count));
            }
        }
        "ping" => client.write(&pong(client.protocol(), args)),
        "quit" => {
            client.write(&Reply::ok());
            return true;
        }
        _ => client.write(&Reply::error(format!(
            "Can't execute '{name}': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT are allowed in this context"
        ))),
    }
    false
}

/// `subscribe`, `unsubscribe`, ... with the channel or pattern and the
/// number of subscriptions now.
fn confirmation(kind: &str, name: Option<&Bytes>, count: usize) -> Reply {
    let name = name.map_or(Reply::Null, |name| Reply::Bulk(name.clone()));
    Reply::Push(vec![
        Reply::bulk(kind.to_string()),
        name,
        Reply::Integer(count as i64),
    ])
}

/// `PING [message]` in subscribed mode: `pong` and the message (or an empty
/// string) in RESP2, where replies and messages share one stream; a plain
/// reply in RESP3.
fn pong(protocol: Protocol, args: &[Bytes]) -> Reply {
    match (protocol, args.first()) {
        (Protocol::Resp3, None) => Reply::Status("PONG".into()),
        (Protocol::Resp3, Some(message)) => Reply::Bulk(message.clone()),
        (_, message) => Reply::Array(vec![
            Reply::bulk("pong"),
            Reply::Bulk(message.cloned().unwrap_or_default()),
        ]),
    }
}
