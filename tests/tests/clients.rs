//! What modern client libraries send before and around their commands:
//! `HELLO` and RESP3, `CLIENT`, `INFO`, `SELECT`, `RESET`, and cluster-mode
//! clients, through the `redis` crate in RESP3 mode and raw sockets.

use redis::{ProtocolVersion, Value};
use std::time::Duration;
use uhaha_tests::{data_dir, dir_arg, error_text, eventually, raw, resp, Cluster, NodeProcess};

const TYPED: &str = env!("CARGO_BIN_EXE_typed");

fn start(extra: &[&str]) -> (tempfile::TempDir, NodeProcess) {
    let dir = data_dir();
    let path = dir_arg(dir.path());
    let args: Vec<&str> = ["-d", path.as_str()].iter().chain(extra).copied().collect();
    let node = NodeProcess::start(TYPED, &args);
    (dir, node)
}

/// A `redis` crate connection that speaks RESP3, as the crate does with
/// `?protocol=resp3`: it opens with `HELLO 3` and fails if that fails.
fn resp3(addr: &str) -> redis::RedisResult<redis::Connection> {
    redis::Client::open(format!("redis://{addr}/?protocol=resp3"))?
        .get_connection_with_timeout(Duration::from_secs(10))
}

fn query(con: &mut redis::Connection, args: &[&str]) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con)
}

fn text(value: Value) -> String {
    match value {
        Value::VerbatimString { text, .. } => text,
        other => panic!("not verbatim text: {other:?}"),
    }
}

/// The value of `key` in a RESP3 map reply.
fn field<'a>(map: &'a Value, key: &str) -> &'a Value {
    let Value::Map(pairs) = map else {
        panic!("not a map: {map:?}")
    };
    pairs
        .iter()
        .find(|(k, _)| *k == Value::BulkString(key.as_bytes().to_vec()))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {key} in {map:?}"))
}

/// One `key:value` line of `INFO` or `CLIENT INFO` style text.
fn info_value<'a>(text: &'a str, key: &str) -> &'a str {
    text.split(['\n', ' '])
        .find_map(|l| l.trim_end().strip_prefix(key)?.strip_prefix([':', '=']))
        .unwrap_or_else(|| panic!("no {key} in {text}"))
}

#[test]
fn resp3_clients_get_typed_replies() {
    let (_dir, node) = start(&[]);
    let mut con = resp3(&node.addr.to_string()).expect("a RESP3 connection");
    let hello = query(&mut con, &["HELLO", "3"]).unwrap();
    assert_eq!(
        field(&hello, "server"),
        &Value::BulkString(b"redis".to_vec())
    );
    assert_eq!(field(&hello, "proto"), &Value::Int(3));
    assert_eq!(
        field(&hello, "mode"),
        &Value::BulkString(b"cluster".to_vec())
    );
    assert_eq!(
        field(&hello, "role"),
        &Value::BulkString(b"master".to_vec())
    );
    assert_eq!(field(&hello, "modules"), &Value::Array(vec![]));
    let id = query(&mut con, &["CLIENT", "ID"]).unwrap();
    assert_eq!(field(&hello, "id"), &id);

    assert_eq!(query(&mut con, &["SET", "k", "v"]).unwrap(), Value::Okay);
    assert_eq!(
        query(&mut con, &["GET", "k"]).unwrap(),
        Value::BulkString(b"v".to_vec())
    );
    assert_eq!(query(&mut con, &["GET", "nope"]).unwrap(), Value::Nil);
    query(&mut con, &["INCRBY", "c", "7"]).unwrap();
    assert_eq!(
        query(&mut con, &["COUNTERS"]).unwrap(),
        Value::Map(vec![(Value::BulkString(b"c".to_vec()), Value::Int(7))])
    );
    assert_eq!(
        query(&mut con, &["RATIO", "1", "4"]).unwrap(),
        Value::Double(0.25)
    );
    assert_eq!(
        query(&mut con, &["FLAG", "yes"]).unwrap(),
        Value::Boolean(true)
    );
    assert_eq!(
        error_text(query(&mut con, &["INCRBY", "c", "x"])),
        "ERR value is not an integer or out of range"
    );
    let info = text(query(&mut con, &["INFO"]).unwrap());
    assert!(info.starts_with("# Server\r\nredis_version:"), "{info}");
    let client = text(query(&mut con, &["CLIENT", "INFO"]).unwrap());
    assert_eq!(info_value(&client, "resp"), "3");
    assert_eq!(info_value(&client, "lib-name"), "redis-rs");
    let docs = query(&mut con, &["COMMAND", "DOCS", "set"]).unwrap();
    let Value::Map(docs) = docs else {
        panic!("{docs:?}")
    };
    assert!(matches!(&docs[0].1, Value::Map(_)));
}

#[test]
fn hello_switches_the_protocol_between_replies_in_request_order() {
    let (_dir, node) = start(&[]);
    let request = [
        resp(&["CLIENT", "ID"]),
        resp(&["SET", "a", "1"]),
        resp(&["HELLO", "3"]),
        resp(&["GET", "a"]),
        resp(&["RATIO", "1", "2"]),
        resp(&["GET", "missing"]),
        resp(&["HELLO", "2"]),
        resp(&["RATIO", "1", "2"]),
        resp(&["GET", "missing"]),
    ]
    .concat();
    let (out, _) = raw(node.addr, &request, Duration::from_secs(1));
    let out = String::from_utf8_lossy(&out);
    let (id, rest) = out.split_once("\r\n").expect("a reply to CLIENT ID");
    let id = id.strip_prefix(':').expect("an integer id");
    let hello = |map: &str, proto: u8| {
        format!(
            "{map}$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.0\r\n\
             $5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$7\r\ncluster\r\n\
             $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
        )
    };
    let expected = [
        "+OK\r\n".to_string(),
        hello("%7\r\n", 3),
        "$1\r\n1\r\n".into(),
        ",0.5\r\n".into(),
        "_\r\n".into(),
        hello("*14\r\n", 2),
        "$3\r\n0.5\r\n".into(),
        "$-1\r\n".into(),
    ]
    .concat();
    assert_eq!(rest, expected);
}

#[test]
fn hello_refuses_bad_versions_and_options_like_redis() {
    let (_dir, node) = start(&[]);
    let cases: &[(&[&str], &str)] = &[
        (&["HELLO", "4"], "-NOPROTO unsupported protocol version\r\n"),
        (
            &["HELLO", "three"],
            "-ERR Protocol version is not an integer or out of range\r\n",
        ),
        (
            &["HELLO", "3", "SETNAME"],
            "-ERR Syntax error in HELLO option 'SETNAME'\r\n",
        ),
        (
            &["HELLO", "3", "SETNAME", "two words"],
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        ),
        (&["SELECT", "0"], "+OK\r\n"),
        (
            &["SELECT", "1"],
            "-ERR DB index is out of range: this service has one database, 0\r\n",
        ),
        (
            &["SELECT", "x"],
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            &["CLIENT", "SETINFO", "lib-color", "red"],
            "-ERR Unrecognized option 'lib-color'\r\n",
        ),
        (
            &["CLIENT", "SETINFO", "lib-name", "a b"],
            "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n",
        ),
        (
            &["CLIENT", "LIST", "TYPE", "odd"],
            "-ERR Unknown client type 'odd'\r\n",
        ),
        (&["HELLO", "2", "AUTH", "default", "any"], "*14\r\n"),
    ];
    for (args, expected) in cases {
        let (out, _) = raw(node.addr, &resp(args), Duration::from_millis(300));
        let out = String::from_utf8_lossy(&out);
        assert!(out.starts_with(expected), "{args:?}: {out}");
    }
    let url = format!("redis://{}/1", node.addr);
    let refused = redis::Client::open(url).unwrap().get_connection();
    let e = refused.err().expect("database 1 is refused");
    assert!(e.to_string().contains("DB index is out of range"), "{e}");
}

#[test]
fn hello_authenticates_on_an_auth_node_and_reset_takes_it_back() {
    let (_dir, node) = start(&["--auth", "s3cret"]);
    let reply = |requests: &[&[&str]]| {
        let request: Vec<u8> = requests.iter().flat_map(|args| resp(args)).collect();
        let (out, _) = raw(node.addr, &request, Duration::from_millis(500));
        String::from_utf8_lossy(&out).into_owned()
    };
    let refused = "-NOAUTH HELLO must be called with the client already authenticated, \
                   otherwise the HELLO <proto> AUTH <user> <pass> option can be used to \
                   authenticate the client and select the RESP protocol version at the same time\r\n";
    assert_eq!(reply(&[&["HELLO", "3"]]), refused);
    assert_eq!(reply(&[&["HELLO"]]), refused);
    assert_eq!(
        reply(&[&["HELLO", "3", "AUTH", "default", "wrong"], &["PING"]]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n\
         -NOAUTH Authentication required.\r\n"
    );
    assert_eq!(
        reply(&[&["HELLO", "4", "AUTH", "default", "s3cret"], &["PING"]]),
        "-NOPROTO unsupported protocol version\r\n-NOAUTH Authentication required.\r\n"
    );
    let out = reply(&[
        &["HELLO", "3", "AUTH", "anyone", "s3cret", "SETNAME", "app"],
        &["CLIENT", "GETNAME"],
        &["RESET"],
        &["PING"],
        &["CLIENT", "GETNAME"],
    ]);
    assert!(out.starts_with("%7\r\n$6\r\nserver\r\n"), "{out}");
    assert!(
        out.ends_with(
            "*0\r\n$3\r\napp\r\n+RESET\r\n-NOAUTH Authentication required.\r\n\
             -NOAUTH Authentication required.\r\n"
        ),
        "{out}"
    );
    assert_eq!(
        reply(&[
            &["AUTH", "s3cret"],
            &["CLIENT", "SETNAME", "app"],
            &["RESET"],
            &["PING"],
            &["AUTH", "s3cret"],
            &["CLIENT", "GETNAME"],
        ]),
        "+OK\r\n+OK\r\n+RESET\r\n-NOAUTH Authentication required.\r\n+OK\r\n$-1\r\n"
    );

    let mut con = redis::Client::open(format!("redis://:s3cret@{}/?protocol=resp3", node.addr))
        .unwrap()
        .get_connection()
        .expect("HELLO 3 AUTH succeeds");
    assert_eq!(
        query(&mut con, &["RATIO", "3", "2"]).unwrap(),
        Value::Double(1.5)
    );
    let wrong = redis::Client::open(format!("redis://:nope@{}/?protocol=resp3", node.addr))
        .unwrap()
        .get_connection();
    assert!(wrong.is_err(), "a wrong password fails the connection");
}

#[test]
fn client_list_shows_every_live_connection() {
    let (_dir, node) = start(&[]);
    let addr = node.addr.to_string();
    let mut watcher = resp3(&addr).unwrap();
    let mut worker = node.client();
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut worker)
        .unwrap();
    let worker_id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut worker).unwrap();
    let _: i64 = redis::cmd("INCRBY")
        .arg("x")
        .arg(1)
        .query(&mut worker)
        .unwrap();

    let list = text(query(&mut watcher, &["CLIENT", "LIST"]).unwrap());
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    let worker_line = lines
        .iter()
        .find(|l| l.starts_with(&format!("id={worker_id} ")))
        .unwrap_or_else(|| panic!("no worker in {list}"));
    assert_eq!(info_value(worker_line, "name"), "worker-1");
    assert_eq!(info_value(worker_line, "cmd"), "incrby");
    assert_eq!(info_value(worker_line, "resp"), "2");
    assert_eq!(info_value(worker_line, "laddr"), addr);
    assert_eq!(info_value(worker_line, "db"), "0");
    let watcher_line = lines
        .iter()
        .find(|l| !l.starts_with(&format!("id={worker_id} ")))
        .unwrap();
    assert_eq!(info_value(watcher_line, "cmd"), "client|list");
    assert_eq!(info_value(watcher_line, "resp"), "3");

    let only = text(
        query(
            &mut watcher,
            &["CLIENT", "LIST", "ID", &worker_id.to_string()],
        )
        .unwrap(),
    );
    assert_eq!(only.lines().count(), 1);
    assert_eq!(
        text(query(&mut watcher, &["CLIENT", "LIST", "TYPE", "pubsub"]).unwrap()),
        ""
    );
    let info = text(query(&mut watcher, &["INFO", "clients"]).unwrap());
    assert_eq!(info_value(&info, "connected_clients"), "2");

    drop(worker);
    // The node notices a closed connection when its read returns; wait
    // for that, within a bound.
    eventually("the closed connection to leave CLIENT LIST", || {
        let list = text(query(&mut watcher, &["CLIENT", "LIST"]).unwrap());
        (list.lines().count() == 1).then_some(()).ok_or(list)
    });
}

#[test]
fn info_sections_describe_the_node() {
    let (_dir, node) = start(&[]);
    let mut con = node.client();
    let _: () = redis::cmd("SET").arg("a").arg("b").query(&mut con).unwrap();
    let all: String = redis::cmd("INFO").query(&mut con).unwrap();
    let titles: Vec<&str> = all.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(
        titles,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# Cluster",
            "# Keyspace",
            "# Raft"
        ]
    );
    assert!(
        all.contains("\r\n\r\n# Clients\r\n"),
        "sections are separated as in Redis"
    );
    assert_eq!(info_value(&all, "service_name"), "typed");
    assert_eq!(info_value(&all, "tcp_port"), node.addr.port().to_string());
    assert_eq!(info_value(&all, "role"), "master");
    assert_eq!(info_value(&all, "leader"), node.addr.to_string());
    assert_eq!(info_value(&all, "state"), "Leader");
    assert_eq!(info_value(&all, "cluster_enabled"), "1");
    assert!(info_value(&all, "used_memory").parse::<u64>().unwrap() > 0);
    assert!(
        info_value(&all, "total_commands_processed")
            .parse::<u64>()
            .unwrap()
            >= 2
    );

    let picked: String = redis::cmd("INFO")
        .arg("RAFT")
        .arg("server")
        .query(&mut con)
        .unwrap();
    assert!(picked.starts_with("# Server\r\n"), "{picked}");
    assert!(picked.contains("\r\n# Raft\r\napplied_index:"), "{picked}");
    assert!(!picked.contains("# Clients"), "{picked}");
    let none: String = redis::cmd("INFO").arg("nosuch").query(&mut con).unwrap();
    assert_eq!(none, "");
}

#[test]
fn resp3_cluster_clients_follow_the_leader_from_a_follower() {
    let cluster = Cluster::start(TYPED, 3, &[]);
    let leader = cluster.leader();
    let follower = (leader + 1) % 3;
    let client = redis::cluster::ClusterClientBuilder::new(vec![format!(
        "redis://{}/",
        cluster.addrs[follower]
    )])
    .use_protocol(ProtocolVersion::RESP3)
    .build()
    .unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("SET").arg("k").arg("v").query(&mut con).unwrap();
    let got: String = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(got, "v");
    let ratio: Value = redis::cmd("RATIO").arg(1).arg(8).query(&mut con).unwrap();
    assert_eq!(ratio, Value::Double(0.125));

    let mut direct = resp3(&cluster.addrs[follower]).unwrap();
    let hello = query(&mut direct, &["HELLO", "3"]).unwrap();
    assert_eq!(
        field(&hello, "role"),
        &Value::BulkString(b"replica".to_vec())
    );
    let replication = text(query(&mut direct, &["INFO", "replication"]).unwrap());
    assert_eq!(info_value(&replication, "role"), "slave");
    assert_eq!(
        format!(
            "{}:{}",
            info_value(&replication, "master_host"),
            info_value(&replication, "master_port")
        ),
        cluster.addrs[leader]
    );
    let shards = query(&mut direct, &["CLUSTER", "SHARDS"]).unwrap();
    let Value::Array(shards) = shards else {
        panic!("{shards:?}")
    };
    let Value::Array(nodes) = field(&shards[0], "nodes") else {
        panic!("{shards:?}")
    };
    assert_eq!(nodes.len(), 3);
    let nodes_text = text(query(&mut direct, &["CLUSTER", "NODES"]).unwrap());
    assert_eq!(nodes_text.lines().count(), 3);
    assert_eq!(
        query(&mut direct, &["CLUSTER", "MYID"]).unwrap(),
        Value::BulkString(format!("{:040x}", follower + 1).into_bytes())
    );
}
