//! The tool as a user runs it: a one-node ticket cluster started by the
//! tool itself, a one-second mixed workload, and a JSON report whose
//! fields make sense. Nothing here asserts a speed.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const BENCH: &str = env!("CARGO_BIN_EXE_uhaha-bench");

/// The `ticket` binary of the profile this test was built with.
///
/// `CARGO_BIN_EXE_ticket` only exists inside the packages that build a
/// `ticket` binary, so the test asks cargo to build the `ticket` package
/// (a no-op when it is up to date; cargo releases its build lock before it
/// runs tests, so the nested call does not wait on the outer one) and takes
/// the binary from the profile directory above this test's own executable
/// (`target/<profile>/deps/<test>`), which also follows `CARGO_TARGET_DIR`.
/// Building rather than only looking means a stale binary from an older
/// checkout is never measured; if the build fails (say, a workspace that
/// is half-edited) a binary that is already there is still used.
fn ticket_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "-p", "ticket", "--profile", profile])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .status()
        .is_ok_and(|s| s.success());
    let ticket = profile_dir.join(format!("ticket{}", std::env::consts::EXE_SUFFIX));
    assert!(
        ticket.is_file(),
        "no ticket binary at {} (cargo build -p ticket {})",
        ticket.display(),
        if built { "succeeded" } else { "failed" }
    );
    ticket
}

#[test]
fn one_node_ticket_run_writes_a_sane_json_report() {
    let dir = uhaha_tests::data_dir();
    let json = dir.path().join("report.json");
    let ticket = ticket_binary();
    let output = Command::new(BENCH)
        .args(["run", "--bin"])
        .arg(&ticket)
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
