//! Operating real node processes: `GET /livez`, `GET /readyz` and the
//! `HEALTH` command say whether a node lives and whether it can serve;
//! `GET /metrics` feeds Prometheus.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use uhaha_tests::{
    data_dir, dir_arg, error_text, eventually, http_get, skip_for_lack_of, Cluster, NodeProcess,
};

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");

fn ok() -> (u16, String) {
    (200, "ok\n".to_string())
}

#[test]
fn a_node_without_a_quorum_lives_but_is_not_ready() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    for (i, addr) in cluster.addrs.iter().enumerate() {
        assert_eq!(http_get(addr, "/livez", None), ok());
        assert_eq!(http_get(addr, "/readyz", None), ok());
        assert_eq!(cluster.string(i, &["HEALTH"]), "OK");
    }
    let leader = cluster.leader();
    let left = (leader + 1) % 3;
    cluster.kill(leader);
    cluster.kill((leader + 2) % 3);
    let addr = cluster.addrs[left].clone();
    let not_ready = (503, "not ready: no leader known\n".to_string());
    eventually("the last node to lose its leader", || {
        let answer = http_get(&addr, "/readyz", None);
        (answer == not_ready)
            .then_some(())
            .ok_or(format!("{answer:?}"))
    });
    assert_eq!(http_get(&addr, "/livez", None), ok());
    assert_eq!(
        error_text(cluster.query(left, &["HEALTH"])),
        "CLUSTERDOWN not ready: no leader known"
    );
    // A HEAD request gets the status without the body.
    let (status, body) = uhaha_tests::http(&addr, "HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!((status, body.as_str()), (503, ""));
}

#[test]
fn a_removed_node_is_not_ready() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    cluster
        .query(0, &["RAFT", "SERVER", "REMOVE", "3"])
        .unwrap();
    cluster.nodes[2]
        .as_mut()
        .unwrap()
        .wait_for_line("removed from the cluster");
    let (status, body) = http_get(&cluster.addrs[2], "/readyz", None);
    assert_eq!(status, 503, "{body}");
    assert!(body.starts_with("not ready: "), "{body}");
    assert_eq!(http_get(&cluster.addrs[0], "/readyz", None), ok());
}

#[test]
fn probes_need_no_auth_and_leave_other_paths_to_the_program() {
    let dir = data_dir();
    let node = NodeProcess::start(TICKET, &["-d", &dir_arg(dir.path()), "--auth", "s3cret"]);
    let addr = node.addr.to_string();
    assert_eq!(http_get(&addr, "/readyz", None), ok());
    assert_eq!(http_get(&addr, "/livez?verbose", None), ok());
    // The ticket example's own HTTP service still answers its paths.
    let (status, _) = http_get(&addr, "/TICKET", None);
    assert_eq!(status, 401);
    let (status, body) = http_get(&addr, "/TICKET", Some("Bearer s3cret"));
    assert_eq!((status, body.as_str()), (200, "{\"result\":1}"));
}

/// The value of sample `name` (labels included, as written) in a
/// Prometheus text exposition.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Whether `program` is on the `PATH`.
fn installed(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn metrics_show_the_cluster_its_commands_and_its_log() {
    let cluster = Cluster::start(TICKET, 3, &[]);
    let leader = cluster.leader();
    for _ in 0..5 {
        cluster.ticket_via(leader);
    }
    cluster.via(leader, &["LAST"]);
    cluster.via(leader, &["RAFT", "SNAPSHOT", "NOW"]);
    let (status, text) = http_get(&cluster.addrs[leader], "/metrics", None);
    assert_eq!(status, 200, "{text}");
    assert_eq!(sample(&text, "uhaha_server_is_leader"), Some(1.0), "{text}");
    assert_eq!(sample(&text, "uhaha_server_has_leader"), Some(1.0));
    let tickets = "uhaha_server_commands_total{command=\"TICKET\",outcome=\"ok\"}";
    assert!(sample(&text, tickets) >= Some(5.0), "{text}");
    let timed = "uhaha_server_command_duration_seconds_count{command=\"TICKET\"}";
    assert!(sample(&text, timed) >= Some(5.0), "{text}");
    assert!(sample(&text, "uhaha_disk_wal_fsync_duration_seconds_count") > Some(0.0));
    assert!(sample(&text, "uhaha_disk_wal_entries_total") > Some(0.0));
    assert!(sample(&text, "uhaha_disk_wal_entries_per_write_count") > Some(0.0));
    assert!(sample(&text, "uhaha_raft_applied_index") > Some(0.0));
    assert!(sample(&text, "uhaha_server_proposals_committed_total") >= Some(5.0));
    assert!(sample(&text, "uhaha_server_commands_per_entry_count") >= Some(1.0));
    assert!(sample(&text, "uhaha_server_read_barriers_total") >= Some(1.0));
    assert_eq!(
        sample(&text, "uhaha_snapshots_saved_total"),
        Some(1.0),
        "{text}"
    );
    assert!(sample(&text, "uhaha_snapshot_bytes") > Some(0.0));
    assert!(sample(&text, "uhaha_network_peer_connections_total") >= Some(2.0));
    assert!(sample(&text, "process_resident_memory_bytes") > Some(0.0));
    for member in ["2", "3"]
        .iter()
        .filter(|m| **m != (leader + 1).to_string())
    {
        let lag = format!("uhaha_raft_follower_lag_entries{{member=\"{member}\"}}");
        assert!(sample(&text, &lag).is_some(), "{lag}: {text}");
    }
    let (_, follower) = http_get(&cluster.addrs[(leader + 1) % 3], "/metrics", None);
    assert_eq!(sample(&follower, "uhaha_server_is_leader"), Some(0.0));
    let test = "metrics_show_the_cluster_its_commands_and_its_log";
    if skip_for_lack_of(
        test,
        (!installed("promtool")).then_some("promtool (prometheus)"),
    ) {
        return;
    }
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = promtool.wait_with_output().unwrap();
    assert!(
        checked.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

#[test]
fn metrics_ask_for_the_secret_as_a_bearer_token() {
    let dir = data_dir();
    let node = NodeProcess::start(TICKET, &["-d", &dir_arg(dir.path()), "--auth", "s3cret"]);
    let addr = node.addr.to_string();
    assert_eq!(http_get(&addr, "/metrics", None).0, 401);
    assert_eq!(http_get(&addr, "/metrics", Some("Bearer wrong")).0, 401);
    // A wrong password counts as a refused client.
    let mut client = node.client();
    assert!(redis::cmd("AUTH")
        .arg("wrong")
        .query::<()>(&mut client)
        .is_err());
    let (status, text) = http_get(&addr, "/metrics", Some("Bearer s3cret"));
    assert_eq!(status, 200);
    assert_eq!(sample(&text, "uhaha_server_is_leader"), Some(1.0));
    let refused = "uhaha_server_rejected_connections_total{reason=\"auth\"}";
    assert_eq!(sample(&text, refused), Some(1.0), "{text}");
}

/// A Prometheus server, killed when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The value of Prometheus's answer to `query` (an instant vector of one
/// series), once it has one.
fn query_prometheus(addr: &str, query: &str) -> Result<f64, String> {
    std::net::TcpStream::connect(addr).map_err(|e| format!("Prometheus at {addr}: {e}"))?;
    let path = format!("/api/v1/query?query={}", query.replace(' ', "%20"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let (status, body) = uhaha_tests::http(addr, &request);
    let json: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    let value = &json["data"]["result"][0]["value"][1];
    match (status, value.as_str()) {
        (200, Some(v)) => v.parse().map_err(|e| format!("{e}")),
        _ => Err(format!("{status} {body}")),
    }
}

#[test]
fn a_stock_prometheus_scrapes_an_authenticated_cluster() {
    let test = "a_stock_prometheus_scrapes_an_authenticated_cluster";
    if skip_for_lack_of(test, (!installed("prometheus")).then_some("prometheus")) {
        return;
    }
    let cluster = Cluster::start(TICKET, 3, &["--auth", "s3cret"]);
    let dir = data_dir();
    let targets: Vec<String> = cluster.addrs.iter().map(|a| format!("'{a}'")).collect();
    // The README's scrape config, with a short interval.
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: uhaha\n    \
         authorization: {{credentials: s3cret}}\n    static_configs: [{{targets: [{}]}}]\n",
        targets.join(", ")
    );
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let web = format!("127.0.0.1:{port}");
    let _prometheus = Prometheus(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address={web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    eventually("Prometheus to see one leader among three nodes", || {
        let leaders = query_prometheus(&web, "sum(uhaha_server_is_leader)")?;
        let up = query_prometheus(&web, "sum(up)")?;
        (leaders == 1.0 && up == 3.0)
            .then_some(())
            .ok_or(format!("{leaders} leaders, {up} up"))
    });
    // Three tickets, from the node that takes them (the others redirect).
    let mut tickets = 0;
    for addr in cluster.addrs.iter().cycle().take(30) {
        let url = format!("redis://:s3cret@{addr}/");
        let mut client = redis::Client::open(url).unwrap().get_connection().unwrap();
        while tickets < 3 && redis::cmd("TICKET").query::<i64>(&mut client).is_ok() {
            tickets += 1;
        }
    }
    assert_eq!(tickets, 3);
    eventually("Prometheus to count the tickets", || {
        let query = "sum(uhaha_server_commands_total{command=\"TICKET\",outcome=\"ok\"})";
        let tickets = query_prometheus(&web, query)?;
        (tickets >= 3.0).then_some(()).ok_or(format!("{tickets}"))
    });
}

#[test]
fn state_changes_are_logged_once_at_info() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    let node = cluster.nodes[2].as_mut().unwrap();
    node.has_logged("members: voters {1, 2, 3}, learners {}");
    node.has_logged("this node is follower in term");
    assert_eq!(node.count_logged("the leader is node 1 (term"), 1);
    assert_eq!(node.count_logged("members: voters {1, 2, 3}"), 1);
}
