//! Snapshots: taken, listed, read back, restored into a new cluster,
//! installed on a follower that fell behind, and keeping the disk bounded.

use redis::Value;
use std::path::Path;
use uhaha_tests::{
    data_dir, dir_arg, error_text, eventually, raw_exact, resp, Cluster, NodeProcess,
};

const KVDB: &str = env!("CARGO_BIN_EXE_kvdb-node");
const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");
const PANICS: &str = env!("CARGO_BIN_EXE_panics");

fn bytes(value: Value) -> Vec<u8> {
    redis::from_redis_value(value).expect("bytes")
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let meta = e.metadata().unwrap();
                    if meta.is_dir() {
                        dir_size(&e.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_snapshot_is_taken_listed_read_and_restored_into_a_new_cluster() {
    let cluster = Cluster::start(KVDB, 1, &[]);
    for i in 0..200 {
        cluster
            .query(0, &["SET", &format!("key{i:03}"), &format!("value {i}")])
            .unwrap();
    }
    let now: Vec<(String, Value)> =
        redis::from_redis_value(cluster.query(0, &["RAFT", "SNAPSHOT", "NOW"]).unwrap()).unwrap();
    assert_eq!(
        now.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        ["id", "size", "timestamp"]
    );
    let id: String = redis::from_redis_value(now[0].1.clone()).unwrap();
    let size: i64 = redis::from_redis_value(now[1].1.clone()).unwrap();
    let list = cluster.query(0, &["RAFT", "SNAPSHOT", "LIST"]).unwrap();
    assert!(format!("{list:?}").contains(&id), "{list:?}");

    let whole = bytes(
        cluster
            .query(0, &["RAFT", "SNAPSHOT", "READ", &id])
            .unwrap(),
    );
    assert_eq!(whole.len() as i64, size);
    assert!(whole.starts_with(b"UHAHASNP"));
    let mut pieces = Vec::new();
    let mut offset = 0;
    while offset < whole.len() {
        let piece = bytes(
            cluster
                .query(
                    0,
                    &[
                        "RAFT",
                        "SNAPSHOT",
                        "READ",
                        &id,
                        "RANGE",
                        &offset.to_string(),
                        "97",
                    ],
                )
                .unwrap(),
        );
        assert!(!piece.is_empty() && piece.len() <= 97);
        offset += piece.len();
        pieces.extend(piece);
    }
    assert_eq!(pieces, whole, "ranges put together are the whole file");
    let past = cluster
        .query(
            0,
            &[
                "RAFT",
                "SNAPSHOT",
                "READ",
                &id,
                "range",
                &whole.len().to_string(),
                "10",
            ],
        )
        .unwrap();
    assert_eq!(past, Value::Nil);
    let path: String = redis::from_redis_value(
        cluster
            .query(0, &["RAFT", "SNAPSHOT", "FILE", &id])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), whole);
    for bad in ["../../etc/passwd", "1-2", "..", "1-2-3/../x"] {
        assert_eq!(
            error_text(cluster.query(0, &["RAFT", "SNAPSHOT", "READ", bad])),
            "ERR invalid snapshot id",
            "{bad}"
        );
        assert_eq!(
            error_text(cluster.query(0, &["RAFT", "SNAPSHOT", "FILE", bad])),
            "ERR invalid snapshot id",
            "{bad}"
        );
    }
    assert_eq!(
        error_text(cluster.query(0, &["RAFT", "SNAPSHOT", "READ", &id, "RANGE", "-1", "5"])),
        "ERR syntax error"
    );
    assert_eq!(
        error_text(cluster.query(0, &["RAFT", "SNAPSHOT", "READ", &id, "SPAN", "0", "5"])),
        "ERR syntax error"
    );

    // A new cluster from the file: the same state, and joiners agree.
    let backup = data_dir();
    let file = backup.path().join("backup.snap");
    std::fs::write(&file, &whole).unwrap();
    let file = dir_arg(&file);
    let restored_dir = data_dir();
    let dir = dir_arg(restored_dir.path());
    let first = NodeProcess::start(KVDB, &["-d", &dir, "--restore", &file, "--openreads"]);
    let addr = first.addr.to_string();
    let keys = cluster.query(0, &["KEYS", "*"]).unwrap();
    let mut con = first.client();
    assert_eq!(
        redis::cmd("KEYS")
            .arg("*")
            .query::<Value>(&mut con)
            .unwrap(),
        keys
    );
    assert_eq!(
        redis::cmd("GET")
            .arg("key123")
            .query::<String>(&mut con)
            .unwrap(),
        "value 123"
    );
    let joiners: Vec<NodeProcess> = (2..=3)
        .map(|id| {
            let id = id.to_string();
            NodeProcess::start(KVDB, &["-n", &id, "-d", &dir, "-j", &addr, "--openreads"])
        })
        .collect();
    for joiner in &joiners {
        let mut con = joiner.client();
        eventually("a joiner of the restored cluster to have its keys", || {
            let got = redis::cmd("KEYS").arg("*").query::<Value>(&mut con);
            (got.as_ref() == Ok(&keys))
                .then_some(())
                .ok_or(format!("{got:?}"))
        });
    }

    // --restore is for new nodes only.
    let again = std::process::Command::new(KVDB)
        .args(["-a", "127.0.0.1:0", "-d", &dir, "--restore", &file])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("data directory already exists"));
    let with_join = std::process::Command::new(KVDB)
        .args(["--restore", &file, "-j", &addr])
        .output()
        .unwrap();
    assert!(!with_join.status.success());
    assert!(String::from_utf8_lossy(&with_join.stderr).contains("cannot be used with"));
}

/// kvdb saves itself with a custom snapshot (a persistent map's view,
/// written after the lock in Go's kvdb format): the view hears where the
/// file lies, and a restart restores the keys and their expiry index from
/// it, then replays the writes that came after.
#[test]
fn a_custom_snapshot_is_saved_heard_of_and_restored_at_run_time() {
    let mut cluster = Cluster::start(KVDB, 1, &[]);
    for i in 0..300 {
        cluster
            .query(0, &["SET", &format!("key{i:03}"), &format!("value {i}")])
            .unwrap();
    }
    cluster
        .query(0, &["SET", "short", "lived", "EX", "2"])
        .unwrap();
    let now: Vec<(String, Value)> =
        redis::from_redis_value(cluster.query(0, &["RAFT", "SNAPSHOT", "NOW"]).unwrap()).unwrap();
    let id: String = redis::from_redis_value(now[0].1.clone()).unwrap();
    // Keys only go away after the snapshot: seen now, it is in the file.
    assert_eq!(cluster.string(0, &["GET", "short"]), "lived");
    let path = cluster.string(0, &["RAFT", "SNAPSHOT", "FILE", &id]);
    let heard = cluster.nodes[0]
        .as_mut()
        .unwrap()
        .has_logged("kvdb snapshot of 301 keys at ");
    assert!(heard.ends_with(&path), "{heard} names {path}");
    cluster.query(0, &["SET", "after", "snapshot"]).unwrap();
    cluster.query(0, &["DEL", "key007"]).unwrap();

    cluster.kill(0);
    cluster.restart(0);
    let node = cluster.nodes[0].as_mut().unwrap();
    node.has_logged(&format!("loaded snapshot {id}"));
    assert_eq!(cluster.string(0, &["GET", "key123"]), "value 123");
    assert_eq!(cluster.string(0, &["GET", "after"]), "snapshot");
    assert_eq!(cluster.query(0, &["GET", "key007"]).unwrap(), Value::Nil);
    // Only the restored expiry index can drop a key set before the
    // snapshot: its SET is not replayed.
    eventually("the restored key to expire", || {
        match cluster.query(0, &["GET", "short"]) {
            Ok(Value::Nil) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(cluster.query(0, &["DBSIZE"]).unwrap(), Value::Int(300));
}

/// openraft ignores a request for a snapshot while it builds one: `RAFT
/// SNAPSHOT NOW` then waits for that build and asks again, and answers
/// with a snapshot that covers every write before it (it used to wait for
/// two minutes and fail).
#[test]
fn snapshot_now_during_a_snapshot_waits_for_one_that_covers_it() {
    let mut cluster = Cluster::start(PANICS, 1, &[]);
    cluster.query(0, &["SLOW_SAVES", "true"]).unwrap();
    let addr = cluster.addrs[0].clone();
    let first = std::thread::spawn(move || {
        let mut con = redis::Client::open(format!("redis://{addr}/"))
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("RAFT")
            .arg(&["SNAPSHOT", "NOW"][..])
            .query::<Value>(&mut con)
    });
    cluster.nodes[0]
        .as_mut()
        .unwrap()
        .wait_for_line("saving a slow snapshot");
    cluster.query(0, &["INCR"]).unwrap();
    let applied: u64 = cluster.raft_info(0, "applied_index").parse().unwrap();
    cluster
        .query(0, &["RAFT", "SNAPSHOT", "NOW"])
        .expect("a snapshot after the one being built");
    let covered: u64 = cluster.raft_info(0, "last_snapshot_index").parse().unwrap();
    assert!(covered >= applied, "{covered} < {applied}");
    first.join().unwrap().expect("the first snapshot");
}

#[test]
fn a_follower_that_missed_the_compacted_log_catches_up_by_snapshot() {
    let mut cluster = Cluster::start(TICKET, 3, &["--snapshot-logs", "50", "--openreads"]);
    let leader = cluster.leader();
    let behind = (leader + 1) % 3;
    let missed_from: u64 = cluster.raft_info(behind, "last_log_index").parse().unwrap();
    cluster.kill(behind);
    let mut last = 0;
    for _ in 0..300 {
        last = cluster.ticket_via(leader);
    }
    // The leader purges the log that the dead follower needs only between
    // its retries to reach it (openraft keeps a log range in flight to a
    // peer until a failure is reported): wait until it has.
    let leader_node = cluster.nodes[leader].as_mut().unwrap();
    loop {
        let line = leader_node.wait_for_line("log purged up to ");
        let upto: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        if upto > missed_from {
            break;
        }
    }
    cluster.restart(behind);
    let node = cluster.nodes[behind].as_mut().unwrap();
    node.has_logged("installed snapshot");
    cluster.wait_for_reply(behind, &["LAST"], &Value::Int(last));
}

#[test]
fn disk_use_stays_bounded_under_endless_writes() {
    let dir = data_dir();
    let node = NodeProcess::start(
        TICKET,
        &[
            "-d",
            &dir_arg(dir.path()),
            "--snapshot-logs",
            "100",
            "--nosync",
        ],
    );
    let mut con = node.client();
    let mut sizes = Vec::new();
    for round in 0..6 {
        for _ in 0..600 {
            let _: i64 = redis::cmd("TICKET").query(&mut con).unwrap();
        }
        let size = dir_size(dir.path());
        eprintln!("after {} writes: {size} bytes", (round + 1) * 600);
        sizes.push(size);
    }
    // The log of the 3,600 writes alone is over 300 KB: a data dir that
    // kept it, or kept a segment per snapshot, would pass this bound. What
    // stays is a segment or two of the newest writes and two tiny
    // snapshots, more or less at each sample as segments come and go.
    let bound = 160 << 10;
    assert!(
        sizes.iter().all(|s| *s < bound),
        "the data dir outgrew {bound} bytes: {sizes:?}"
    );
    // A snapshot may still be under way (its temporary file, or the new
    // file before the oldest is dropped): wait for it to finish.
    let snapshots = dir.path().join("ticket/1/snapshots");
    eventually("old snapshots to be dropped (2 kept)", || {
        let files = std::fs::read_dir(&snapshots).unwrap().count();
        (files <= 2).then_some(()).ok_or(format!("{files} files"))
    });
}

#[test]
fn snapshots_count_commands_not_the_entries_that_batch_them() {
    // 5000 pipelined writes travel in far fewer than 1000 entries; a
    // snapshot every 1000 commands must still be taken, or the log would
    // keep the whole history.
    let cluster = Cluster::start(TICKET, 1, &["--snapshot-logs", "1000"]);
    let addr = cluster.addrs[0].parse().unwrap();
    let expected: usize = (1..=5000).map(|n| format!(":{n}\r\n").len()).sum();
    let replies = raw_exact(addr, &resp(&["TICKET"]).repeat(5000), expected);
    assert!(replies.ends_with(b":5000\r\n"));
    let entries: u64 = cluster.raft_info(0, "last_log_index").parse().unwrap();
    assert!(
        entries < 1000,
        "the writes were not batched: {entries} entries"
    );
    eventually("a snapshot after 5000 commands", || {
        match cluster.query(0, &["RAFT", "SNAPSHOT", "LIST"]) {
            Ok(Value::Array(list)) if !list.is_empty() => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
}

/// The default policy follows the state's size: each snapshot waits for a
/// log as large as the snapshot before it, so a state that grows by the
/// same step per command is snapshotted ever more rarely (a count of
/// commands would snapshot it at a fixed pace, rewriting a bigger state
/// each time).
#[test]
fn a_growing_state_is_snapshotted_ever_more_rarely() {
    let dir = data_dir();
    let mut node = NodeProcess::start(
        KVDB,
        &[
            "-d",
            &dir_arg(dir.path()),
            "--snapshot-min-log",
            "64KB",
            "--nosync",
        ],
    );
    let mut con = node.client();
    let value = "v".repeat(1000);
    let mut taken = Vec::new();
    for round in 0..4 {
        // Round r doubles the number of keys: 250, 500, 1000, 2000.
        let (from, to) = (
            if round == 0 { 0 } else { 250 << (round - 1) },
            250 << round,
        );
        let mut pipe = redis::pipe();
        for k in from..to {
            pipe.cmd("SET").arg(format!("key{k}")).arg(&value).ignore();
        }
        let () = pipe.query(&mut con).unwrap();
        // A snapshot that is due is asked for within 100 ms; one more SET
        // after that wait lets a last one show up in the log.
        std::thread::sleep(std::time::Duration::from_millis(300));
        let _: () = redis::cmd("SET")
            .arg("tail")
            .arg(round)
            .query(&mut con)
            .unwrap();
        taken.push(node.count_logged("saved ("));
    }
    eprintln!("snapshots after 250, 500, 1000, 2000 keys: {taken:?}");
    // 2 MB of log in all, in 64 KB pieces, would be 30 snapshots; by size,
    // each waits for the log to match the state: 64 KB, 128 KB, ... 1 MB.
    assert!(taken[3] >= 3, "the log is compacted: {taken:?}");
    assert!(
        taken[3] <= 8,
        "snapshots follow the state's size: {taken:?}"
    );
    assert!(
        taken[3] - taken[2] <= 2,
        "doubling the state adds a snapshot or two, not twice as many: {taken:?}"
    );
}
