//! The wire: pipelines, inline commands, limits and hostile bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use uhaha_tests::{data_dir, dir_arg, raw, raw_exact, resp, NodeProcess};

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");

fn start() -> (tempfile::TempDir, NodeProcess) {
    let dir = data_dir();
    let node = NodeProcess::start(TICKET, &["-d", &dir_arg(dir.path())]);
    (dir, node)
}

fn ping(node: &NodeProcess) {
    let (out, _) = raw(node.addr, b"PING\r\n", Duration::from_millis(300));
    assert_eq!(out, b"+PONG\r\n", "the node still serves other clients");
}

#[test]
fn a_thousand_pipelined_commands_in_one_write_reply_in_order() {
    let (_dir, node) = start();
    let request: Vec<u8> = (0..1000).flat_map(|_| resp(&["TICKET"])).collect();
    let expected: String = (1..=1000).map(|n| format!(":{n}\r\n")).collect();
    let out = raw_exact(node.addr, &request, expected.len());
    assert_eq!(String::from_utf8(out).unwrap(), expected);

    let mut mixed = Vec::new();
    for _ in 0..100 {
        mixed.extend(resp(&["TICKET"]));
        mixed.extend(resp(&["LAST"]));
    }
    let expected: String = (1001..=1100).map(|n| format!(":{n}\r\n:{n}\r\n")).collect();
    let out = raw_exact(node.addr, &mixed, expected.len());
    assert_eq!(
        String::from_utf8(out).unwrap(),
        expected,
        "a read sees the connection's own earlier writes"
    );

    let mut con = node.client();
    let mut pipe = redis::pipe();
    for _ in 0..1000 {
        pipe.cmd("TICKET");
    }
    let got: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(got, (1101..=2100).collect::<Vec<_>>());
}

#[test]
fn inline_commands_work_like_telnet() {
    let (_dir, node) = start();
    let (out, _) = raw(
        node.addr,
        b"PING\r\nECHO \"two words\"\nTICKET\r\n",
        Duration::from_millis(500),
    );
    assert_eq!(out, b"+PONG\r\n$9\r\ntwo words\r\n:1\r\n");
}

#[test]
fn pipelined_quit_stops_the_pipeline_and_closes_cleanly() {
    let (_dir, node) = start();
    let (out, closed) = raw(
        node.addr,
        b"PING\r\nQUIT\r\nTICKET\r\nPING\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(out, b"+PONG\r\n+OK\r\n");
    assert!(closed);
    let mut con = node.client();
    assert_eq!(
        redis::cmd("TICKET").query::<i64>(&mut con).unwrap(),
        1,
        "nothing after QUIT ran"
    );
}

#[test]
fn oversized_and_malformed_frames_close_only_their_connection() {
    let (_dir, node) = start();
    let mut idle = TcpStream::connect(node.addr).unwrap();
    let cases: &[(&[u8], &str)] = &[
        (
            b"*1\r\n$999999999999\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*99999999999\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-7\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*2\r\n+PING\r\n",
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"*1\r\n$4\r\nPINGxx",
            "-ERR Protocol error: invalid bulk terminator\r\n",
        ),
        (
            b"*x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"ECHO \"unbalanced\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ];
    for (request, reply) in cases {
        let (out, closed) = raw(node.addr, request, Duration::from_secs(5));
        assert_eq!(
            String::from_utf8_lossy(&out),
            *reply,
            "{:?}",
            String::from_utf8_lossy(request)
        );
        assert!(closed, "the connection is closed after a protocol error");
        ping(&node);
    }
    // An inline line longer than 64 KiB without a newline.
    let (out, closed) = raw(node.addr, &vec![b'a'; 70 << 10], Duration::from_secs(5));
    assert_eq!(
        String::from_utf8_lossy(&out),
        "-ERR Protocol error: too big inline request\r\n"
    );
    assert!(closed);
    // Garbage of every byte value.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let _ = raw(node.addr, &garbage, Duration::from_millis(500));
    ping(&node);
    // The idle connection opened first is still served.
    idle.write_all(b"PING\r\n").unwrap();
    let mut buf = [0u8; 7];
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    idle.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
}

#[test]
fn large_values_within_the_limits_are_accepted() {
    let (_dir, node) = start();
    let big = "x".repeat(4 << 20);
    let request = resp(&["ECHO", &big]);
    let header = format!("${}\r\n", big.len());
    let out = raw_exact(node.addr, &request, header.len() + big.len() + 2);
    assert!(out.starts_with(header.as_bytes()) && out.ends_with(b"x\r\n"));
}
