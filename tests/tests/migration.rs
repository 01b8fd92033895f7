//! Migration from a Go uhaha cluster: `--restore` of the file that a Go
//! node's `RAFT SNAPSHOT READ` returns (a gzip stream of `SNAP0001`, the
//! machine's start, time and seed, then the service's payload), for the
//! ticket (Go's JSON snapshots), kvdb and timeseries examples.

use redis::Value;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};
use uhaha_tests::{data_dir, dir_arg, NodeProcess};

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");
const KVDB: &str = env!("CARGO_BIN_EXE_kvdb-node");
const TIMESERIES: &str = env!("CARGO_BIN_EXE_timeseries-node");
const PANICS: &str = env!("CARGO_BIN_EXE_panics");

/// Unix nanoseconds of an hour ago, and of now.
fn an_hour_ago_and_now() -> (i64, i64) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let now = now.as_nanos() as i64;
    (now - 3_600_000_000_000, now)
}

/// A snapshot file as a Go uhaha node writes it (spec section 9.2).
fn go_snapshot(start: i64, now: i64, seed: i64, payload: &[u8]) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(b"SNAP0001").unwrap();
    for n in [start, now, seed] {
        gzip.write_all(&n.to_le_bytes()).unwrap();
    }
    gzip.write_all(payload).unwrap();
    gzip.finish().unwrap()
}

/// sds bytes: a uvarint length, then the bytes.
fn sds(out: &mut Vec<u8>, bytes: &[u8]) {
    uvarint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn uvarint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// A node of `binary` restored from `file`'s bytes, with its data dir.
fn restored(binary: &str, file: &[u8]) -> (NodeProcess, tempfile::TempDir) {
    let dir = data_dir();
    let path = dir.path().join("go.snap");
    std::fs::write(&path, file).unwrap();
    let node = NodeProcess::start(
        binary,
        &[
            "-d",
            &dir_arg(&dir.path().join("data")),
            "--restore",
            &dir_arg(&path),
        ],
    );
    (node, dir)
}

#[test]
fn a_go_ticket_snapshot_restores_by_its_json_field_names_and_clock() {
    let (start, now) = an_hour_ago_and_now();
    let (node, _dir) = restored(TICKET, &go_snapshot(start, now, 7, br#"{"Ticket":41}"#));
    let mut con = node.client();
    let ticket: i64 = redis::cmd("TICKET").query(&mut con).unwrap();
    assert_eq!(ticket, 42);
    let machine: Vec<(String, i64)> = redis::cmd("MACHINE").query(&mut con).unwrap();
    assert_eq!(machine[0], ("boottime".to_string(), start));
    assert!(machine[2].1 >= 3_600_000_000_000, "uptime {machine:?}");
}

#[test]
fn a_go_kvdb_snapshot_restores_with_its_keys_and_expiries() {
    let (start, now) = an_hour_ago_and_now();
    let mut payload = Vec::new();
    uvarint(&mut payload, 3);
    for (key, value, expires) in [
        ("user:1", "ann", 0),
        ("user:2", "bob", now + 3_600_000_000_000),
        ("gone", "soon", now + 1),
    ] {
        sds(&mut payload, key.as_bytes());
        sds(&mut payload, value.as_bytes());
        payload.extend_from_slice(&start.to_le_bytes());
        payload.extend_from_slice(&expires.to_le_bytes());
    }
    let (node, _dir) = restored(KVDB, &go_snapshot(start, now, 9, &payload));
    let mut con = node.client();
    let get = |con: &mut redis::Connection, key: &str| -> Option<String> {
        redis::cmd("GET").arg(key).query(con).unwrap()
    };
    assert_eq!(get(&mut con, "user:1").as_deref(), Some("ann"));
    assert_eq!(get(&mut con, "user:2").as_deref(), Some("bob"));
    // Expired by the machine's time: the first tick drops it.
    uhaha_tests::eventually("the expired key to go", || {
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
        (keys == ["user:1", "user:2"])
            .then_some(())
            .ok_or(format!("{keys:?}"))
    });
}

#[test]
fn a_go_timeseries_snapshot_restores_with_its_points_and_totals() {
    let (start, now) = an_hour_ago_and_now();
    let mut payload = Vec::new();
    uvarint(&mut payload, 5); // total sets
    uvarint(&mut payload, 2); // total deletes
    uvarint(&mut payload, 2 * 7 * 24 * 3_600_000_000_000); // a week, zig-zag
    uvarint(&mut payload, 2);
    for (measurement, ts, fields) in [
        ("cpu", now - 60_000_000_000, "load=1"),
        ("cpu", now, "load=2"),
    ] {
        sds(&mut payload, measurement.as_bytes());
        sds(&mut payload, format!("{ts:020} {fields}").as_bytes());
    }
    let (node, _dir) = restored(TIMESERIES, &go_snapshot(start, now, 3, &payload));
    let mut con = node.client();
    let stats: Vec<(String, Value)> = redis::cmd("STATS").query(&mut con).unwrap();
    assert_eq!(
        format!("{stats:?}"),
        format!(
            "{:?}",
            [
                ("num_measurements", Value::Int(1)),
                ("num_points", Value::Int(2)),
                ("retain", Value::BulkString(b"168h0m0s".to_vec())),
                ("total_dels", Value::Int(2)),
                ("total_sets", Value::Int(5)),
            ]
            .map(|(k, v)| (k.to_string(), v))
        )
    );
    let points: Vec<String> = redis::cmd("QUERY")
        .arg(&["cpu", "-2h", "1m", "all"][..])
        .query(&mut con)
        .unwrap();
    assert_eq!(
        points,
        [
            format!("cpu {} load=1", now - 60_000_000_000),
            format!("cpu {now} load=2")
        ]
    );
}

#[test]
fn a_machine_that_cannot_read_go_snapshots_refuses_the_restore() {
    let dir = data_dir();
    let path = dir.path().join("go.snap");
    std::fs::write(&path, go_snapshot(1, 2, 3, b"1 2")).unwrap();
    let out = std::process::Command::new(PANICS)
        .args([
            "-a",
            "127.0.0.1:0",
            "-d",
            &dir_arg(&dir.path().join("data")),
        ])
        .args(["--restore", &dir_arg(&path)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read Go uhaha snapshots"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("data").exists(),
        "a refused restore leaves no data directory"
    );
}
