//! Other ecosystems' clients against a three-node cluster: the newest
//! redis-py (default settings, `protocol=2`, and `RedisCluster` started
//! from a follower), `redis-cli -3`, and both as pub/sub subscribers of a
//! kvdb cluster, each driven by a script in `tests/interop/`.
//!
//! On a machine without python3's `redis` package or without redis-cli the
//! tests are skipped with a message saying what is missing, except in CI
//! (`CI` set in the environment), where a missing tool fails the test:
//! `.ci/run` installs both, and a test that never ran must not pass there.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use uhaha_tests::{skip_for_lack_of, Cluster};

const TYPED: &str = env!("CARGO_BIN_EXE_typed");
const KVDB: &str = env!("CARGO_BIN_EXE_kvdb-node");
/// How long a script may run before it is killed and the test fails.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Whether `program args...` runs and exits successfully.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// What the redis-py script needs that this machine lacks, if anything.
fn lacks_redis_py() -> Option<&'static str> {
    (!runs("python3", &["-c", "import redis"]))
        .then_some("python3 with the redis package (pip install --upgrade redis)")
}

/// What the redis-cli script (python3 drives redis-cli on a terminal)
/// needs that this machine lacks, if anything.
fn lacks_redis_cli() -> Option<&'static str> {
    if !runs("python3", &["--version"]) {
        return Some("python3");
    }
    (!runs("redis-cli", &["--version"])).then_some("redis-cli (apt-get install redis-tools)")
}

/// Runs `tests/interop/<script>` with the leader's and a follower's
/// addresses of a fresh three-node cluster of `binary`, and fails the test
/// if the script fails or outlives [`SCRIPT_TIMEOUT`].
fn run_script(binary: &str, script: &str) {
    let cluster = Cluster::start(binary, 3, &[]);
    let leader = cluster.leader();
    let follower = (leader + 1) % cluster.addrs.len();
    let path = format!("{}/interop/{script}", env!("CARGO_MANIFEST_DIR"));
    let mut child = Command::new("python3")
        .arg(&path)
        .args([&cluster.addrs[leader], &cluster.addrs[follower]])
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {path}: {e}"));
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{script} failed: {status}");
}

#[test]
fn redis_py_drives_a_three_node_cluster() {
    if skip_for_lack_of("redis_py_drives_a_three_node_cluster", lacks_redis_py()) {
        return;
    }
    run_script(TYPED, "redis_py.py");
}

#[test]
fn redis_cli_speaks_resp3_with_help_and_hints() {
    if skip_for_lack_of(
        "redis_cli_speaks_resp3_with_help_and_hints",
        lacks_redis_cli(),
    ) {
        return;
    }
    run_script(TYPED, "redis_cli.py");
}

#[test]
fn redis_py_and_redis_cli_subscribe_on_a_follower() {
    let test = "redis_py_and_redis_cli_subscribe_on_a_follower";
    if skip_for_lack_of(test, lacks_redis_py().or(lacks_redis_cli())) {
        return;
    }
    run_script(KVDB, "pubsub.py");
}
