//! User code that panics, against real node processes (the `panics` test
//! service): every panic is one error reply, the same on every node, and
//! the cluster goes on taking writes and reads.

use redis::Value;
use uhaha_tests::{error_text, eventually, Cluster};

const PANICS: &str = env!("CARGO_BIN_EXE_panics");

fn int(value: Value) -> i64 {
    redis::from_redis_value(value).expect("an integer")
}

#[test]
fn a_panicking_write_is_one_error_on_every_node_and_writes_go_on() {
    let mut cluster = Cluster::start(PANICS, 3, &["--openreads"]);
    let leader = cluster.leader();
    assert_eq!(cluster.via(leader, &["INCR"]), Value::Int(1));
    assert_eq!(
        error_text(cluster.query(leader, &["INCR_THEN_PANIC"])),
        "ERR command panicked: panicked after the change to 2"
    );
    assert_eq!(
        cluster.via(leader, &["INCR"]),
        Value::Int(3),
        "the change made before the panic stays, and writes go on"
    );
    for i in 0..3 {
        cluster.wait_for_reply(i, &["COUNT"], &Value::Int(3));
    }
    // A follower that replays the panicking write from its log comes to
    // the same state.
    let follower = (leader + 1) % 3;
    cluster.kill(follower);
    cluster.restart(follower);
    cluster.wait_for_reply(follower, &["COUNT"], &Value::Int(3));
    assert_eq!(cluster.via(follower, &["INCR"]), Value::Int(4));
}

#[test]
fn panicking_reads_and_intermediates_answer_an_error_on_a_connection_that_goes_on() {
    let cluster = Cluster::start(PANICS, 1, &[]);
    let mut con = redis::Client::open(format!("redis://{}/", cluster.addrs[0]))
        .and_then(|c| c.get_connection())
        .expect("connect");
    let mut query = |args: &[&str]| uhaha_tests::command(args).query::<Value>(&mut con);
    let read = error_text(query(&["OUT_OF_RANGE"]));
    assert!(
        read.starts_with("ERR command panicked: index out of bounds"),
        "{read}"
    );
    assert_eq!(
        error_text(query(&["LOCAL_PANIC"])),
        "ERR command panicked: an intermediate panicked"
    );
    assert_eq!(query(&["INCR"]).unwrap(), Value::Int(1));
    assert_eq!(query(&["COUNT"]).unwrap(), Value::Int(1));
}

#[test]
fn panicking_ticks_and_failing_snapshot_saves_leave_the_node_serving() {
    let mut cluster = Cluster::start(PANICS, 1, &[]);
    assert_eq!(cluster.via(0, &["PANICKING_TICKS", "on"]), Value::Okay);
    let before = int(cluster.via(0, &["TICKS"]));
    eventually("three more ticks, each of them panicking", || {
        let ticks = int(cluster.via(0, &["TICKS"]));
        (ticks >= before + 3)
            .then_some(())
            .ok_or(format!("{ticks}"))
    });
    assert_eq!(cluster.via(0, &["PANICKING_TICKS", "off"]), Value::Okay);

    assert_eq!(cluster.via(0, &["INCR"]), Value::Int(1));
    assert_eq!(cluster.via(0, &["FAILING_SAVES", "on"]), Value::Okay);
    let failed = error_text(cluster.query(0, &["RAFT", "SNAPSHOT", "NOW"]));
    assert!(
        failed.contains("snapshot failed") && failed.contains("the save was told to fail"),
        "{failed}"
    );
    assert_eq!(cluster.via(0, &["INCR"]), Value::Int(2));
    assert_eq!(cluster.via(0, &["FAILING_SAVES", "off"]), Value::Okay);
    assert!(matches!(
        cluster.query(0, &["RAFT", "SNAPSHOT", "NOW"]),
        Ok(Value::Array(_) | Value::Map(_))
    ));
    // The snapshot that did succeed is the one a restart loads.
    cluster.kill(0);
    cluster.restart(0);
    assert_eq!(cluster.via(0, &["COUNT"]), Value::Int(2));
    assert_eq!(cluster.via(0, &["INCR"]), Value::Int(3));
}
