//! The tool as a user runs it: a one-node ticket cluster started by the
//! tool itself, a one-second mixed workload, and a JSON report whose
//! fields make sense. Nothing here asserts a speed.

use serde_json::Value;

use std::process::Command;

const BENCH: &str = env!("CARGO_BIN_EXE_uhaha-bench");
/// The ticket example, built as a program of this package.
const TICKET: &str = env!("CARGO_BIN_EXE_bench-ticket");

#[test]
fn one_node_ticket_run_writes_a_sane_json_report() {
    let dir = uhaha_tests::data_dir();
    let json = dir.path().join("report.json");
    let output = Command::new(BENCH)
        .args(["run", "--example", "ticket", "--bin", TICKET])
        .args([
            "--nodes",
            "1",
            "--workload",
            "mix",
            "--read-ratio",
            "0.5",
            "--connections",
            "4",
            "--pipeline",
            "4",
            "--duration",
            "1s",
            "--warmup",
            "200ms",
            "--fsync-probe",
            "200ms",
            "--json",
        ])
        .arg(&json)
        .output()
        .expect("run uhaha-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "uhaha-bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("cluster:ticket:1"), "table:\n{stdout}");

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["mode"], "run");
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert_eq!(r["workload"]["commands"], "ticket");
    assert_eq!(r["workload"]["kind"], "mix");
    assert!(r["requests"].as_u64().unwrap() > 0);
    assert!(r["ops_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(r["errors"], 0, "first error: {}", r["first_error"]);
    let lat = &r["latency"];
    let p = |name: &str| lat[name].as_u64().unwrap();
    assert_eq!(lat["samples"], r["requests"]);
    assert!(p("min_us") <= p("p50_us"));
    assert!(p("p50_us") <= p("p90_us"));
    assert!(p("p90_us") <= p("p99_us"));
    assert!(p("p99_us") <= p("p999_us"));
    assert!(p("p999_us") <= p("max_us"));
    assert!(r["fsync"]["fsyncs_per_sec"].as_f64().unwrap() > 0.0);

    let nodes = r["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    let node = &nodes[0];
    assert_eq!(node["leader"], true);
    assert!(node["pid"].as_u64().is_some(), "the node's pid was found");
    assert!(node["cpu_s"].as_f64().unwrap() >= 0.0);
    let (idle, peak) = (
        node["idle_rss_kib"].as_u64().unwrap(),
        node["peak_rss_kib"].as_u64().unwrap(),
    );
    assert!(idle > 0 && peak >= idle);
}
