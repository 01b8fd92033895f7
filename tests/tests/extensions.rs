//! `#[intermediate]` commands and the `#[catch_all]` method end to end:
//! kvdb's SETNOW and its hints for unknown commands on real clusters, and
//! a test service whose intermediates rewrite commands into others.

use redis::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use uhaha_tests::{data_dir, dir_arg, error_text, eventually, raw, resp, Cluster, NodeProcess};

const KVDB: &str = env!("CARGO_BIN_EXE_kvdb-node");
const REWRITES: &str = env!("CARGO_BIN_EXE_rewrites");

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn query(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con)
}

/// What node `i` answers to `GET key`, once it answers with a value.
fn value_on(cluster: &Cluster, i: usize, key: &str) -> String {
    eventually(&format!("a value of {key} on node {i}"), || {
        match cluster.query(i, &["GET", key]) {
            Ok(Value::BulkString(value)) => Ok(String::from_utf8(value).unwrap()),
            other => Err(format!("{other:?}")),
        }
    })
}

#[test]
fn setnow_replicates_the_receiving_nodes_clock_through_the_log() {
    let cluster = Cluster::start(KVDB, 3, &["--openreads"]);
    let leader = cluster.leader();
    let before = now_ms();
    assert_eq!(
        cluster.query(leader, &["SETNOW", "t"]).unwrap(),
        Value::Okay
    );
    let after = now_ms();
    let stored = value_on(&cluster, leader, "t");
    let millis: u64 = stored.parse().expect("Unix milliseconds");
    assert!(
        (before..=after).contains(&millis),
        "{before} <= {millis} <= {after}"
    );
    // The followers applied the same SET, value included: the clock was
    // read once, by the node that received the command.
    for i in (0..3).filter(|&i| i != leader) {
        assert_eq!(value_on(&cluster, i, "t"), stored, "node {i}");
    }

    // On a follower the intermediate runs, and the SET it hands on is a
    // write, which the follower redirects to the leader.
    let follower = (leader + 1) % 3;
    let redirect = error_text(cluster.query(follower, &["SETNOW", "u"]));
    assert!(redirect.starts_with("MOVED 0 "), "{redirect}");
    assert_eq!(cluster.via(follower, &["SETNOW", "u"]), Value::Okay);
    assert!(value_on(&cluster, follower, "u").parse::<u64>().unwrap() >= after);
    assert_eq!(
        error_text(cluster.query(leader, &["SETNOW"])),
        "ERR wrong number of arguments for 'setnow' command"
    );
}

#[test]
fn unknown_commands_get_the_closest_name_once_authenticated() {
    let dir = data_dir();
    let node = NodeProcess::start(KVDB, &["-d", &dir_arg(dir.path()), "--auth", "s3cret"]);
    let mut request = resp(&["GTE", "k"]);
    request.extend(resp(&["SETNOW", "k"]));
    request.extend(resp(&["AUTH", "s3cret"]));
    request.extend(resp(&["GTE", "k"]));
    request.extend(resp(&["dbsze"]));
    request.extend(resp(&["XYZZY", "a", "b"]));
    let (replies, _) = raw(node.addr, &request, Duration::from_secs(2));
    let replies = String::from_utf8(replies).unwrap();
    let lines: Vec<&str> = replies.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "-NOAUTH Authentication required.",
            "-NOAUTH Authentication required.",
            "+OK",
            "-ERR unknown command 'GTE' (did you mean 'get'?), with args beginning with: 'k' ",
            "-ERR unknown command 'dbsze' (did you mean 'dbsize'?), with args beginning with: ",
            "-ERR unknown command 'XYZZY', with args beginning with: 'a' 'b' ",
            "",
        ]
    );
}

#[test]
fn rewrites_go_through_the_normal_dispatch_up_to_a_limit() {
    let dir = data_dir();
    let node = NodeProcess::start(REWRITES, &["-d", &dir_arg(dir.path())]);
    let mut con = node.client();
    let too_many = "ERR command rewritten more than 8 times: intermediate or catch-all commands keep returning other commands";
    assert_eq!(
        query(&mut con, &["REWRITE", "8"]).unwrap(),
        Value::BulkString(b"done".to_vec())
    );
    assert_eq!(error_text(query(&mut con, &["REWRITE", "9"])), too_many);
    assert_eq!(error_text(query(&mut con, &["LOOP"])), too_many);
    assert_eq!(
        error_text(query(&mut con, &["EMPTY"])),
        "ERR an intermediate or catch-all command returned an empty command"
    );
    assert_eq!(
        error_text(query(&mut con, &["REWRITE", "x"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        error_text(query(&mut con, &["REWRITE"])),
        "ERR wrong number of arguments for 'rewrite' command"
    );
    query(&mut con, &["SET", "k", "v"]).unwrap();
    assert_eq!(
        query(&mut con, &["ALIAS", "k"]).unwrap(),
        Value::BulkString(b"v".to_vec())
    );
    assert_eq!(query(&mut con, &["ALIAS", "nothing"]).unwrap(), Value::Nil);
    // The node's connection still works after the errors.
    assert_eq!(
        query(&mut con, &["PING"]).unwrap(),
        Value::SimpleString("PONG".into())
    );
}

#[test]
fn pipelined_intermediates_see_their_connection_and_keep_reply_order() {
    let dir = data_dir();
    let node = NodeProcess::start(REWRITES, &["-d", &dir_arg(dir.path())]);
    let mut con = node.client();
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    let replies: Vec<Value> = redis::pipe()
        .cmd("WHOAMI")
        .arg("slow")
        .arg(300)
        .cmd("GET")
        .arg("slow")
        .cmd("SET")
        .arg("plain")
        .arg("1")
        .cmd("WHOAMI")
        .arg("fast")
        .cmd("ALIAS")
        .arg("fast")
        .query(&mut con)
        .unwrap();
    let whoami = |value: &Value| match value {
        Value::BulkString(text) => String::from_utf8(text.clone()).unwrap(),
        other => panic!("not a string: {other:?}"),
    };
    assert_eq!(replies[0], Value::Okay);
    let (seen_id, addr) = whoami(&replies[1])
        .split_once(' ')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();
    assert_eq!(seen_id, id.to_string());
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert_eq!(replies[2], Value::Okay);
    assert_eq!(replies[3], Value::Okay);
    assert_eq!(whoami(&replies[4]), whoami(&replies[1]));
}

/// A `serve()` program hears when its node's directory is ready (and puts
/// a file of its own there) and when the node serves (and writes through
/// its own node, from a follower too).
#[test]
fn a_program_hears_of_its_data_dir_and_starts_work_when_its_node_serves() {
    let cluster = Cluster::start(REWRITES, 2, &[]);
    for id in ["1", "2"] {
        assert_eq!(value_on(&cluster, 0, &format!("started:{id}")), id);
        let file = cluster
            .dir
            .path()
            .join("rewrites")
            .join(id)
            .join("program.txt");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "the program's own file"
        );
    }
}

/// A build id follows the version in `-v`, `VERSION` and the start log.
#[test]
fn a_build_id_follows_the_version() {
    let out = std::process::Command::new(REWRITES)
        .arg("-v")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "rewrites version 0.0.1 (rewrites-build-7)\n"
    );
    let mut cluster = Cluster::start(REWRITES, 1, &[]);
    assert_eq!(
        cluster.string(0, &["VERSION"]),
        "rewrites version 0.0.1 (rewrites-build-7)"
    );
    cluster.nodes[0]
        .as_mut()
        .unwrap()
        .has_logged("starting rewrites version 0.0.1 (rewrites-build-7)");
}

/// The program's observer sees each command with its outcome and client,
/// and a stuck observer loses commands instead of holding them up.
#[test]
fn an_observer_sees_every_command_and_a_stuck_one_holds_none_up() {
    let mut cluster = Cluster::start(REWRITES, 1, &[]);
    cluster.query(0, &["SET", "a", "b"]).unwrap();
    assert!(cluster.query(0, &["SET", "lonely"]).is_err());
    let node = cluster.nodes[0].as_mut().unwrap();
    let line = node.has_logged("observed SET a b: ok from 127.0.0.1:");
    assert!(line.contains("from 127.0.0.1:"), "{line}");
    node.has_logged("observed SET lonely: error from ");

    cluster.query(0, &["SET", "stuck", "1"]).unwrap();
    let mut con = redis::Client::open(format!("redis://{}/", cluster.addrs[0]))
        .unwrap()
        .get_connection()
        .unwrap();
    let mut pings = redis::pipe();
    for _ in 0..6000 {
        pings.cmd("PING");
    }
    let pongs: Vec<String> = pings.query(&mut con).unwrap();
    assert_eq!(pongs.len(), 6000);
    let info = cluster.string(0, &["INFO", "stats"]);
    let dropped: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("observer_dropped_commands:"))
        .expect("the field")
        .trim()
        .parse()
        .unwrap();
    assert!(dropped > 0, "{info}");
}

/// A command's `CommandError`s: `NotLeader` sends a follower's client to
/// the leader (and is a plain error on the leader and in a write); the
/// others are the errors Redis clients know; a reserved code cannot be
/// forged.
#[test]
fn command_errors_answer_as_uhaha_does_and_not_leader_redirects() {
    let cluster = Cluster::start(REWRITES, 2, &[]);
    let leader = cluster.leader();
    let follower = 1 - leader;
    let fail = |i: usize, kind: &str| error_text(cluster.query(i, &["FAIL", kind]));
    assert_eq!(
        fail(follower, "notleader"),
        format!("MOVED 0 {}", cluster.addrs[leader])
    );
    assert_eq!(fail(leader, "notleader"), "ERR not leader");
    assert_eq!(fail(leader, "syntax"), "ERR syntax error");
    assert_eq!(fail(follower, "invalid"), "ERR invalid argument");
    assert_eq!(
        fail(leader, "wrongtype"),
        "WRONGTYPE Operation against a key"
    );
    assert_eq!(fail(leader, "moved"), "ERR MOVED 0 127.0.0.1:1");
    assert_eq!(
        error_text(cluster.query(leader, &["FAIL_WRITE"])),
        "ERR not leader"
    );
}
