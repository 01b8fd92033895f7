//! The ticket service as a user runs it: a real node process, real clients.

use std::collections::HashMap;
use std::time::Duration;
use uhaha_tests::{data_dir, dir_arg, NodeProcess};

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");

fn ticket(con: &mut redis::Connection) -> i64 {
    redis::cmd("TICKET").query(con).expect("TICKET")
}

#[test]
fn tickets_increase_and_survive_kill_9_and_restart() {
    let dir = data_dir();
    let args = ["-d", &dir_arg(dir.path())];
    let mut node = NodeProcess::start(TICKET, &args);
    let mut con = node.client();
    let got: Vec<i64> = (0..20).map(|_| ticket(&mut con)).collect();
    assert_eq!(got, (1..=20).collect::<Vec<_>>());
    let last: i64 = redis::cmd("LAST").query(&mut con).unwrap();
    assert_eq!(last, 20);

    node.kill();
    let node = NodeProcess::start(TICKET, &args);
    let mut con = node.client();
    assert_eq!(redis::cmd("LAST").query::<i64>(&mut con).unwrap(), 20);
    assert_eq!(
        ticket(&mut con),
        21,
        "acknowledged tickets are never handed out again"
    );
}

#[test]
fn concurrent_clients_get_unique_tickets_that_survive_restart() {
    let dir = data_dir();
    let args = ["-d", &dir_arg(dir.path())];
    let mut node = NodeProcess::start(TICKET, &args);
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let mut con = node.client();
            std::thread::spawn(move || (0..50).map(|_| ticket(&mut con)).collect::<Vec<_>>())
        })
        .collect();
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    assert_eq!(
        all,
        (1..=400).collect::<Vec<_>>(),
        "every ticket handed out once"
    );
    node.kill();
    let node = NodeProcess::start(TICKET, &args);
    assert_eq!(ticket(&mut node.client()), 401);
}

#[test]
fn nosync_node_serves_tickets_and_keeps_them_after_a_clean_shutdown() {
    let dir = data_dir();
    let args = ["-d", &dir_arg(dir.path()), "--nosync"];
    let mut node = NodeProcess::start(TICKET, &args);
    let mut con = node.client();
    for expected in 1..=5 {
        assert_eq!(ticket(&mut con), expected);
    }
    let _: redis::RedisResult<()> = redis::cmd("SHUTDOWN").query(&mut con);
    let status = node
        .wait_exit(Duration::from_secs(20))
        .expect("SHUTDOWN stops the node");
    assert!(status.success(), "{status:?}");
    let node = NodeProcess::start(TICKET, &args);
    assert_eq!(ticket(&mut node.client()), 6);
}

/// Writes pipelined before `RAFT SNAPSHOT NOW` are in the snapshot, as
/// they would be sent one by one: a connection gathers its writes into one
/// proposal, and a command that acts on the cluster must not run while
/// they are still gathered.
#[test]
fn writes_pipelined_before_a_snapshot_are_in_it() {
    let dir = data_dir();
    let node = NodeProcess::start(TICKET, &["-d", &dir_arg(dir.path())]);
    let mut con = node.client();
    let (tickets, snapshot): ((i64, i64, i64), HashMap<String, redis::Value>) = redis::pipe()
        .cmd("TICKET")
        .cmd("TICKET")
        .cmd("TICKET")
        .cmd("RAFT")
        .arg("SNAPSHOT")
        .arg("NOW")
        .query(&mut con)
        .map(|(a, b, c, s)| ((a, b, c), s))
        .unwrap();
    assert_eq!(tickets, (1, 2, 3));
    let id: String = redis::from_redis_value(snapshot["id"].clone()).unwrap();
    let info: HashMap<String, String> = redis::cmd("RAFT").arg("INFO").query(&mut con).unwrap();
    let index = id.split('-').nth(1).unwrap();
    assert_eq!(
        index, info["applied_index"],
        "snapshot {id} covers the tickets"
    );
}

#[test]
fn help_flag_lists_commands_and_version_flag_prints_version() {
    let out = std::process::Command::new(TICKET)
        .arg("-h")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.starts_with("ticket version: 0.1.0\n"), "{help}");
    for needle in [
        "Usage: ticket [-n id] [-a addr] [options]",
        "--tls-cert",
        "--auth",
        "--join",
        "--nosync",
        "--openreads",
        "--localtime",
        "--restore",
        "Commands:",
        "TICKET",
        "Returns a new ticket, at least one greater than the previous one.",
        "LAST",
        "PING [message]",
        "ticket options:",
        "--no-http",
    ] {
        assert!(help.contains(needle), "-h lacks {needle:?}:\n{help}");
    }
    let out = std::process::Command::new(TICKET)
        .arg("-v")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "ticket version 0.1.0\n"
    );
}

#[test]
fn bad_flags_are_usage_errors_that_name_the_flag() {
    let refused = |args: &[&str]| -> String {
        let out = std::process::Command::new(TICKET)
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?} is a usage error");
        String::from_utf8(out.stderr).unwrap()
    };
    let cases: [(&[&str], &[&str]); 7] = [
        (&["--tls-cert", "c.pem"], &["--tls-key"]),
        (&["--log-format", "xml"], &["'xml'", "--log-format"]),
        (&["--tls-ca", "ca.pem"], &["--tls-cert"]),
        (&["-l", "loud"], &["'loud'", "-l"]),
        (
            &["--advertise", "nohost"],
            &["--advertise", "missing port number"],
        ),
        (&["--tick", "0"], &["--tick", "0"]),
        (
            &["--restore", "x.snap", "-j", "127.0.0.1:1"],
            &["--restore", "cannot be used with"],
        ),
    ];
    for (args, needles) in cases {
        let err = refused(args);
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: no {needle:?} in {err}");
        }
    }
}

/// `--log-format json`: every line the node logs is one JSON object with
/// the timestamp, level, target and message, for log shippers.
#[test]
fn json_logs_are_one_object_per_line() {
    use std::io::{BufRead, BufReader};
    let dir = data_dir();
    let mut child = std::process::Command::new(TICKET)
        .args(["-a", "127.0.0.1:0", "-d", &dir_arg(dir.path())])
        .args(["--log-format", "json"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let listening = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no 'server listening' line; saw {seen:?}"));
        let object: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        for field in ["timestamp", "level", "target"] {
            assert!(object[field].is_string(), "no {field} in {line}");
        }
        let message = object["fields"]["message"].as_str().unwrap().to_string();
        seen.push(message.clone());
        if message.starts_with("server listening at ") {
            break object;
        }
    };
    assert_eq!(listening["level"], "INFO");
    assert!(listening["target"].as_str().unwrap().starts_with("uhaha"));
    let _ = child.kill();
    let _ = child.wait();
}
