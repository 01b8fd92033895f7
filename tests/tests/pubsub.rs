//! Hijacked connections and pub/sub, through the kvdb example: a Rust
//! client subscribed on a follower, a connection that leaves subscribed
//! mode and goes on with normal commands, and a subscriber that stops
//! reading while writes go on. (redis-py and redis-cli subscribers are in
//! `interop.rs`.)

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use uhaha_tests::{eventually, raw_exact, resp, Cluster};

const KVDB: &str = env!("CARGO_BIN_EXE_kvdb-node");

fn follower_of(cluster: &Cluster) -> usize {
    (cluster.leader() + 1) % cluster.addrs.len()
}

#[test]
fn a_rust_subscriber_on_a_follower_receives_what_the_leader_publishes() {
    let cluster = Cluster::start(KVDB, 3, &[]);
    let (leader, follower) = (cluster.leader(), follower_of(&cluster));
    let client = redis::Client::open(format!("redis://{}/", cluster.addrs[follower])).unwrap();
    let mut conn = client.get_connection().unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut pubsub = conn.as_pubsub();
    pubsub.subscribe("news").unwrap();
    pubsub.psubscribe("sport.*").unwrap();

    let published = cluster.via(leader, &["PUBLISH", "news", "hello"]);
    assert_eq!(
        published,
        redis::Value::Int(0),
        "no subscriber on the leader"
    );
    cluster.via(leader, &["PUBLISH", "sport.chess", "mate"]);
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_channel_name(), "news");
    assert_eq!(message.get_payload::<String>().unwrap(), "hello");
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_pattern::<String>().unwrap(), "sport.*");
    assert_eq!(message.get_channel_name(), "sport.chess");
    assert_eq!(message.get_payload::<String>().unwrap(), "mate");
}

#[test]
fn a_connection_that_unsubscribes_from_everything_goes_back_to_commands() {
    let cluster = Cluster::start(KVDB, 1, &[]);
    let request = [
        resp(&["PING"]),
        resp(&["SUBSCRIBE", "a", "b"]),
        resp(&["PING"]),
        resp(&["GET", "k"]),
        resp(&["UNSUBSCRIBE"]),
        resp(&["PING"]),
        resp(&["SET", "k", "v"]),
        resp(&["GET", "k"]),
    ]
    .concat();
    let expected = [
        "+PONG\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
        "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n",
        "-ERR Can't execute 'get': only (P)SUBSCRIBE / (P)UNSUBSCRIBE / PING / QUIT are allowed in this context\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n",
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n",
        "+PONG\r\n",
        "+OK\r\n",
        "$1\r\nv\r\n",
    ]
    .concat();
    let addr = cluster.addrs[0].parse().unwrap();
    let got = raw_exact(addr, &request, expected.len());
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

/// The value of `key` in node `i`'s `INFO stats`.
fn stat(cluster: &Cluster, i: usize, key: &str) -> String {
    let info = cluster.string(i, &["INFO", "stats"]);
    let prefix = format!("{key}:");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} in {info}"))
        .to_string()
}

#[test]
fn a_subscriber_that_stops_reading_is_dropped_and_writes_go_on() {
    let cluster = Cluster::start(KVDB, 3, &[]);
    let (leader, follower) = (cluster.leader(), follower_of(&cluster));
    let mut stuck = TcpStream::connect(&cluster.addrs[follower]).unwrap();
    stuck
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stuck.write_all(&resp(&["SUBSCRIBE", "big"])).unwrap();
    let confirmation = b"*3\r\n$9\r\nsubscribe\r\n$3\r\nbig\r\n:1\r\n";
    let mut got = vec![0u8; confirmation.len()];
    stuck.read_exact(&mut got).unwrap();
    assert_eq!(got, confirmation);

    // One MiB at a time: the socket's buffers fill, then the subscriber's
    // queue (8 MiB); every PUBLISH is still acknowledged.
    let payload = "x".repeat(1 << 20);
    let mut published = 0;
    while stat(&cluster, follower, "pubsub_dropped_subscribers") == "0" {
        assert!(published < 100, "the subscriber was never dropped");
        cluster.via(leader, &["PUBLISH", "big", &payload]);
        published += 1;
    }

    // What was written before the drop, then the reason, then the end.
    let mut rest = Vec::new();
    stuck.read_to_end(&mut rest).unwrap();
    let reason = b"-ERR this subscriber fell behind and is disconnected\r\n";
    let tail = &rest[rest.len().saturating_sub(reason.len())..];
    assert_eq!(
        String::from_utf8_lossy(tail),
        String::from_utf8_lossy(reason)
    );
    eventually("the dropped subscription to end", || {
        match stat(&cluster, follower, "pubsub_channels").as_str() {
            "0" => Ok(()),
            other => Err(other.to_string()),
        }
    });
}
