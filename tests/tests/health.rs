//! Probes on real node processes: `GET /livez`, `GET /readyz` and the
//! `HEALTH` command say whether a node lives and whether it can serve.

use uhaha_tests::{data_dir, dir_arg, error_text, eventually, http_get, Cluster, NodeProcess};

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
