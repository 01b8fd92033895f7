//! The ticket example's HTTP front end and `MONITOR`, through real node
//! processes: HTTP shares the port with Redis clients and peers, runs
//! commands through the same dispatch (auth, Raft, redirects), and a
//! monitor sees every command without ever slowing one down.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;
use uhaha_tests::{http_get as get, raw, raw_exact, resp, Cluster, PATIENCE};

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");
const SECRET: &str = "s3cret";

#[test]
fn http_runs_commands_on_the_redis_port_with_auth_and_redirects() {
    let cluster = Cluster::start(TICKET, 3, &["--auth", SECRET]);
    let bearer = format!("Bearer {SECRET}");
    let (_, body) = get(&cluster.addrs[0], "/RAFT/LEADER", Some(&bearer));
    let leader = cluster
        .addrs
        .iter()
        .position(|a| body == format!("{{\"result\":\"{a}\"}}"))
        .expect("a leader");
    let follower = &cluster.addrs[(leader + 1) % 3];

    assert_eq!(
        get(follower, "/TICKET", Some(&bearer)),
        (200, "{\"result\":1}".into())
    );
    // `curl -u :s3cret` sends basic auth: base64(":s3cret").
    assert_eq!(
        get(follower, "/TICKET", Some("Basic OnMzY3JldA==")),
        (200, "{\"result\":2}".into())
    );
    assert_eq!(
        get(&cluster.addrs[leader], "/LAST", Some(&bearer)).1,
        "{\"result\":2}"
    );

    let (status, body) = get(follower, "/TICKET", None);
    assert_eq!(status, 401, "{body}");
    assert_eq!(get(follower, "/TICKET", Some("Bearer wrong")).0, 401);
    let (status, body) = get(follower, "/NOPE%20x", Some(&bearer));
    assert_eq!(status, 400);
    assert!(body.contains("unknown command 'NOPE x'"), "{body}");
    assert_eq!(get(follower, "/", Some(&bearer)).0, 404);

    // A Redis client on the same port is untouched, inline commands too.
    let login = [resp(&["AUTH", SECRET]), b"LAST\r\n".to_vec()].concat();
    let (out, _) = raw(
        follower.parse().unwrap(),
        &login,
        Duration::from_millis(500),
    );
    assert!(
        String::from_utf8_lossy(&out).starts_with("+OK\r\n"),
        "{out:?}"
    );
}

/// Reads monitor lines until one contains `needle`.
fn monitor_until(lines: &mut impl BufRead, needle: &str) -> String {
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            lines.read_line(&mut line).unwrap() > 0,
            "the monitor closed"
        );
        if line.contains(needle) {
            return line;
        }
    }
}

#[test]
fn monitor_streams_commands_and_a_stalled_monitor_slows_nothing() {
    let cluster = Cluster::start(TICKET, 1, &[]);
    let addr = &cluster.addrs[0];
    let mut monitor = TcpStream::connect(addr).unwrap();
    monitor.set_read_timeout(Some(PATIENCE)).unwrap();
    monitor.write_all(&resp(&["MONITOR"])).unwrap();
    let mut lines = BufReader::new(monitor.try_clone().unwrap());
    let mut ok = String::new();
    lines.read_line(&mut ok).unwrap();
    assert_eq!(ok, "+OK\r\n");

    cluster.query(0, &["TICKET"]).unwrap();
    cluster.query(0, &["ECHO", "a \"b\"\n"]).unwrap();
    let line = monitor_until(&mut lines, "\"TICKET\"");
    assert!(
        line.starts_with('+') && line.contains(" [0 127.0.0.1:"),
        "{line}"
    );
    let echo = monitor_until(&mut lines, "ECHO");
    assert!(echo.ends_with("\"ECHO\" \"a \\\"b\\\"\\n\"\r\n"), "{echo}");

    // A stalled monitor: a flood of pipelined commands all complete, and
    // the lines it could not take are counted.
    let flood = resp(&["PING"]).repeat(200_000);
    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut writer = client.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&flood).unwrap());
    let mut replies = vec![0u8; b"+PONG\r\n".len() * 200_000];
    client.read_exact(&mut replies).unwrap();
    sender.join().unwrap();
    let info = cluster.string(0, &["INFO", "stats"]);
    let dropped: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("monitor_dropped_lines:"))
        .expect("the counter is in INFO")
        .trim()
        .parse()
        .unwrap();
    assert!(dropped > 0, "{info}");

    // QUIT ends monitoring; other commands are refused.
    monitor.write_all(&resp(&["TICKET"])).unwrap();
    monitor_until(&mut lines, "only QUIT is allowed");
    monitor.write_all(&resp(&["QUIT"])).unwrap();
    monitor_until(&mut lines, "+OK");

    // Commands pipelined behind MONITOR are answered at once; garbage
    // closes the connection instead of piling up.
    let addr = addr.parse().unwrap();
    let (out, closed) = raw(addr, b"MONITOR\r\nQUIT\r\n", PATIENCE);
    assert_eq!((out.as_slice(), closed), (&b"+OK\r\n+OK\r\n"[..], true));
    let (out, closed) = raw(addr, b"MONITOR\r\n*x\r\n", PATIENCE);
    assert!(
        closed && out.starts_with(b"+OK\r\n-ERR Protocol error"),
        "{out:?}"
    );
}

/// The ticket program's own `--no-http` flag leaves its HTTP front end
/// out: the node's probes still answer, a ticket request over HTTP does
/// not run.
#[test]
fn the_no_http_flag_of_the_ticket_program_leaves_http_out() {
    let cluster = Cluster::start(TICKET, 1, &["--no-http"]);
    let addr = &cluster.addrs[0];
    assert_eq!(get(addr, "/livez", None).0, 200);
    // Without the HTTP front end the request is Redis inline commands.
    let request = "GET /TICKET HTTP/1.1\r\n";
    let expected =
        "-ERR unknown command 'GET', with args beginning with: '/TICKET' 'HTTP/1.1' \r\n";
    let reply = raw_exact(addr.parse().unwrap(), request.as_bytes(), expected.len());
    assert_eq!(String::from_utf8_lossy(&reply), expected);
    assert_eq!(cluster.string(0, &["LAST"]), "0");
}
