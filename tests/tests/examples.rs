//! The kvdb and timeseries examples, as their READMEs use them.

use redis::Value;

use uhaha_tests::{error_text, eventually, Cluster};

const KVDB: &str = env!("CARGO_BIN_EXE_kvdb-node");
const TIMESERIES: &str = env!("CARGO_BIN_EXE_timeseries-node");

fn strings(value: Value) -> Vec<String> {
    redis::from_redis_value(value).expect("strings")
}

#[test]
fn kvdb_sets_gets_deletes_lists_and_expires_keys_on_every_node() {
    let cluster = Cluster::start(KVDB, 3, &["--openreads", "--tick", "50"]);
    let l = cluster.leader();
    assert_eq!(cluster.via(l, &["SET", "user:1", "ann"]), Value::Okay);
    assert_eq!(cluster.via(l, &["SET", "user:2", "bob"]), Value::Okay);
    assert_eq!(cluster.via(l, &["SET", "team:1", "x"]), Value::Okay);
    assert_eq!(
        cluster.via(l, &["GET", "user:1"]),
        Value::BulkString(b"ann".to_vec())
    );
    assert_eq!(cluster.via(l, &["GET", "nokey"]), Value::Nil);
    assert_eq!(
        strings(cluster.via(l, &["KEYS", "user:*"])),
        ["user:1", "user:2"]
    );
    assert_eq!(
        strings(cluster.via(l, &["KEYS", "*:1"])),
        ["team:1", "user:1"]
    );
    assert_eq!(cluster.via(l, &["DEL", "user:2", "nokey"]), Value::Int(1));
    assert_eq!(cluster.via(l, &["DBSIZE"]), Value::Int(2));
    assert_eq!(
        error_text(cluster.query(l, &["SET", "a"])),
        "ERR wrong number of arguments for 'set' command"
    );
    assert_eq!(
        error_text(cluster.query(l, &["SET", "a", "b", "EX", "x"])),
        "ERR syntax error"
    );
    assert_eq!(
        error_text(cluster.query(l, &["SET", "a", "b", "PX", "1"])),
        "ERR syntax error"
    );

    assert_eq!(
        cluster.via(l, &["SET", "short", "lived", "ex", "0.3"]),
        Value::Okay
    );
    for i in 0..3 {
        eventually(&format!("node {i} to expire the key"), || {
            let size = cluster.query(i, &["DBSIZE"]).unwrap();
            let get = cluster.query(i, &["GET", "short"]).unwrap();
            (size == Value::Int(2) && get == Value::Nil)
                .then_some(())
                .ok_or(format!("{size:?} {get:?}"))
        });
    }
    assert_eq!(
        strings(cluster.query(2, &["KEYS", "*"]).unwrap()),
        ["team:1", "user:1"]
    );
}

#[test]
fn timeseries_writes_queries_and_drops_old_points() {
    let cluster = Cluster::start(TIMESERIES, 1, &["--tick", "50"]);
    assert_eq!(
        cluster
            .query(0, &["WRITE", "cpu", "now", "hello=jello"])
            .unwrap(),
        Value::Okay
    );
    assert_eq!(
        cluster.query(0, &["WRITE", "cpu", "-1h", "old=1"]).unwrap(),
        Value::Okay
    );
    assert_eq!(
        cluster.query(0, &["WRITE", "mem", "now", "a=b"]).unwrap(),
        Value::Okay
    );
    let points = strings(
        cluster
            .query(0, &["QUERY", "cpu", "-2h", "1m", "all"])
            .unwrap(),
    );
    assert_eq!(points.len(), 2, "{points:?}");
    assert!(
        points[0].starts_with("cpu ") && points[0].ends_with(" old=1"),
        "{points:?}"
    );
    assert!(points[1].ends_with(" hello=jello"));
    assert_eq!(
        strings(
            cluster
                .query(0, &["QUERY", "cpu", "-2h", "1m", "1"])
                .unwrap()
        )
        .len(),
        1
    );
    assert_eq!(
        cluster
            .query(0, &["QUERY", "nope", "-2h", "now", "all"])
            .unwrap(),
        Value::Array(vec![])
    );
    assert_eq!(
        cluster.query(0, &["RETAIN"]).unwrap(),
        Value::BulkString(b"168h0m0s".to_vec())
    );
    assert_eq!(
        error_text(cluster.query(0, &["WRITE", "cpu", "now", "a b"])),
        "ERR syntax error"
    );
    assert_eq!(
        error_text(cluster.query(0, &["WRITE", "cpu", "5xyz", "a=1"])),
        "ERR time: invalid duration \"5xyz\""
    );
    assert_eq!(
        error_text(cluster.query(0, &["RETAIN", "-1h"])),
        "ERR syntax error"
    );

    assert_eq!(cluster.query(0, &["RETAIN", "30m"]).unwrap(), Value::Okay);
    eventually("the old point to be dropped", || {
        let points = strings(
            cluster
                .query(0, &["QUERY", "cpu", "-2h", "1m", "all"])
                .unwrap(),
        );
        (points.len() == 1)
            .then_some(())
            .ok_or(format!("{points:?}"))
    });
    let stats: Vec<(String, String)> =
        redis::from_redis_value(cluster.query(0, &["STATS"]).unwrap()).unwrap();
    let stats: Vec<String> = stats.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(
        stats,
        [
            "num_measurements=2",
            "num_points=2",
            "retain=30m0s",
            "total_dels=1",
            "total_sets=3"
        ]
    );
}
