//! Built-in commands, errors and auth, through the `redis` crate and raw
//! sockets.

use redis::Value;
use std::time::Duration;
use uhaha_tests::{data_dir, dir_arg, error_text, raw, resp, NodeProcess};

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");

fn start() -> (tempfile::TempDir, NodeProcess) {
    let dir = data_dir();
    let node = NodeProcess::start(TICKET, &["-d", &dir_arg(dir.path())]);
    (dir, node)
}

#[test]
fn ping_echo_version_barrier_quit() {
    let (_dir, node) = start();
    let mut con = node.client();
    assert_eq!(
        redis::cmd("PING").query::<String>(&mut con).unwrap(),
        "PONG"
    );
    assert_eq!(
        redis::cmd("PING")
            .arg("hello")
            .query::<String>(&mut con)
            .unwrap(),
        "hello"
    );
    assert_eq!(
        redis::cmd("ECHO")
            .arg("hi there")
            .query::<String>(&mut con)
            .unwrap(),
        "hi there"
    );
    assert_eq!(
        redis::cmd("VERSION").query::<String>(&mut con).unwrap(),
        "ticket version 0.1.0"
    );
    assert_eq!(
        redis::cmd("BARRIER").query::<String>(&mut con).unwrap(),
        "OK"
    );
    let (out, closed) = raw(node.addr, b"QUIT\r\n", Duration::from_secs(5));
    assert_eq!((out.as_slice(), closed), (&b"+OK\r\n"[..], true));
}

#[test]
fn machine_reports_time_in_nanoseconds_and_human_form() {
    let (_dir, node) = start();
    let mut con = node.client();
    let _: i64 = redis::cmd("TICKET").query(&mut con).unwrap();
    let map: Vec<(String, i64)> = redis::cmd("MACHINE").query(&mut con).unwrap();
    let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["boottime", "now", "uptime"]);
    let (boot, now, up) = (map[0].1, map[1].1, map[2].1);
    assert!(
        boot > 1_700_000_000_000_000_000 && now >= boot && up == now - boot,
        "{map:?}"
    );
    let human: Vec<(String, String)> = redis::cmd("MACHINE").arg("human").query(&mut con).unwrap();
    assert!(
        human[0].1.ends_with('Z') && human[0].1.contains('T'),
        "{human:?}"
    );
    assert!(human[2].1.ends_with('s'), "{human:?}");
    assert_eq!(
        error_text(redis::cmd("MACHINE").arg("nope").query::<Value>(&mut con)),
        "ERR syntax error"
    );
}

#[test]
fn help_lists_every_command_and_describes_one() {
    let (_dir, node) = start();
    let mut con = node.client();
    let lines: Vec<String> = redis::cmd("HELP").query(&mut con).unwrap();
    for name in [
        "TICKET",
        "LAST",
        "PING [message]",
        "ECHO message",
        "AUTH [username] password",
        "MACHINE [HUMAN]",
    ] {
        assert!(
            lines.iter().any(|l| l == name),
            "HELP lacks {name}: {lines:?}"
        );
    }
    assert!(lines
        .iter()
        .any(|l| l.trim() == "Returns a new ticket, at least one greater than the previous one."));
    let one: Vec<String> = redis::cmd("HELP").arg("ticket").query(&mut con).unwrap();
    assert_eq!(
        one,
        [
            "TICKET",
            "    Returns a new ticket, at least one greater than the previous one."
        ]
    );
    let err = error_text(redis::cmd("HELP").arg("nope").query::<Value>(&mut con));
    assert!(err.starts_with("ERR unknown command 'nope'"), "{err}");
}

#[test]
fn command_answers_in_redis_7_format() {
    let (_dir, node) = start();
    let mut con = node.client();
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    let all: Vec<Value> = redis::cmd("COMMAND").query(&mut con).unwrap();
    assert_eq!(all.len() as i64, count);
    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("ticket")
        .arg("nope")
        .query(&mut con)
        .unwrap();
    let Value::Array(ticket) = &info[0] else {
        panic!("{info:?}")
    };
    assert_eq!(ticket.len(), 10);
    assert_eq!(ticket[0], Value::BulkString(b"ticket".to_vec()));
    assert_eq!(ticket[1], Value::Int(1));
    assert_eq!(info[1], Value::Nil);
    let docs: Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("ticket")
        .arg("ping")
        .query(&mut con)
        .unwrap();
    let text = format!("{docs:?}");
    assert!(
        text.contains("Returns a new ticket, at least one greater than the previous one."),
        "{text}"
    );
    assert!(
        text.contains("message") && text.contains("optional"),
        "{text}"
    );
    let all_docs: Value = redis::cmd("COMMAND").arg("DOCS").query(&mut con).unwrap();
    assert!(format!("{all_docs:?}").contains("last"));
}

#[test]
fn errors_follow_redis_conventions() {
    let (_dir, node) = start();
    let mut con = node.client();
    let cases: &[(&[&str], &str)] = &[
        (
            &["TICKET", "extra"],
            "ERR wrong number of arguments for 'ticket' command",
        ),
        (
            &["ECHO"],
            "ERR wrong number of arguments for 'echo' command",
        ),
        (
            &["PING", "a", "b"],
            "ERR wrong number of arguments for 'ping' command",
        ),
        (
            &["AUTH", "x"],
            "ERR AUTH <password> called without any password configured",
        ),
        (
            &["FOO", "bar"],
            "ERR unknown command 'FOO', with args beginning with: 'bar'",
        ),
        (&["TICK", "1", "2"], "ERR unknown command 'TICK'"),
        (
            &["CLIENT", "KILL"],
            "ERR unknown subcommand or wrong number of arguments for 'KILL'",
        ),
    ];
    for (args, expected) in cases {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let err = error_text(cmd.query::<Value>(&mut con));
        assert!(err.starts_with(expected), "{args:?}: {err}");
    }
    assert_eq!(
        redis::cmd("TICKET").query::<i64>(&mut con).unwrap(),
        1,
        "errors never reach the log"
    );
}

#[test]
fn client_commands_that_libraries_send_on_connect() {
    let (_dir, node) = start();
    let mut con = node.client();
    let ok: String = redis::cmd("CLIENT")
        .arg("SETINFO")
        .arg("LIB-NAME")
        .arg("x")
        .query(&mut con)
        .unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(
        redis::cmd("CLIENT")
            .arg("GETNAME")
            .query::<Option<String>>(&mut con)
            .unwrap(),
        None
    );
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        redis::cmd("CLIENT")
            .arg("GETNAME")
            .query::<String>(&mut con)
            .unwrap(),
        "worker-1"
    );
    let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut con).unwrap();
    assert!(id > 0);
}

#[test]
fn auth_gates_every_command_but_auth_and_quit() {
    let dir = data_dir();
    let node = NodeProcess::start(TICKET, &["-d", &dir_arg(dir.path()), "--auth", "s3cret"]);
    let expect = |request: &[u8], reply: &[u8]| {
        let (out, _) = raw(node.addr, request, Duration::from_millis(500));
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(reply),
            "{:?}",
            String::from_utf8_lossy(request)
        );
    };
    expect(b"PING\r\n", b"-NOAUTH Authentication required.\r\n");
    expect(&resp(&["TICKET"]), b"-NOAUTH Authentication required.\r\n");
    expect(&resp(&["NOPE"]), b"-NOAUTH Authentication required.\r\n");
    expect(
        &resp(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    expect(
        &[resp(&["AUTH", "s3cret"]), resp(&["TICKET"])].concat(),
        b"+OK\r\n:1\r\n",
    );
    expect(
        &[resp(&["AUTH", "default", "s3cret"]), resp(&["PING"])].concat(),
        b"+OK\r\n+PONG\r\n",
    );
    expect(
        &[resp(&["AUTH", "s3cret"]), resp(&["AUTH", "bad"]), resp(&["PING"])].concat(),
        b"+OK\r\n-WRONGPASS invalid username-password pair or user is disabled.\r\n-NOAUTH Authentication required.\r\n",
    );
    let mut con = redis::Client::open(format!("redis://:s3cret@{}/", node.addr))
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(redis::cmd("TICKET").query::<i64>(&mut con).unwrap(), 2);
    let bad = redis::Client::open(format!("redis://:nope@{}/", node.addr))
        .unwrap()
        .get_connection();
    assert!(bad.is_err(), "a wrong password fails the connection");
}
