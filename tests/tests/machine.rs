//! Deterministic time and random numbers, across nodes and leader changes.

use redis::Value;
use uhaha_tests::Cluster;

const TYPED: &str = env!("CARGO_BIN_EXE_typed");

#[test]
fn every_node_sees_the_same_random_numbers_and_times() {
    let cluster = Cluster::start(TYPED, 3, &["--openreads"]);
    let leader = cluster.leader();
    let rolled: Vec<i64> = (0..20)
        .map(|_| redis::from_redis_value(cluster.via(leader, &["ROLL"])).unwrap())
        .collect();
    assert!(
        rolled.windows(2).any(|w| w[0] != w[1]),
        "numbers vary: {rolled:?}"
    );
    let history = cluster.query(leader, &["ROLLS"]).unwrap();
    let Value::Array(items) = &history else {
        panic!("{history:?}")
    };
    assert_eq!(items.len(), 20);
    let rolls: Vec<String> = redis::from_redis_value(history.clone()).unwrap();
    for roll in &rolls {
        let [_, _, float, uuid] = roll.split(':').collect::<Vec<_>>()[..] else {
            panic!("{roll}")
        };
        assert!(
            (0.0..1.0).contains(&float.parse::<f64>().unwrap()),
            "{roll}"
        );
        assert!(
            uuid.len() == 36 && &uuid[14..15] == "4",
            "a v4 uuid: {roll}"
        );
    }
    for i in 0..3 {
        cluster.wait_for_reply(i, &["ROLLS"], &history);
    }
}

#[test]
fn machine_time_strictly_increases_across_a_leader_kill() {
    let mut cluster = Cluster::start(TYPED, 3, &["--openreads"]);
    let stamp = |c: &Cluster, via: usize| -> i64 {
        redis::from_redis_value(c.via(via, &["STAMP"])).unwrap()
    };
    let first = cluster.leader();
    let mut stamps: Vec<i64> = (0..5).map(|_| stamp(&cluster, first)).collect();
    cluster.kill(first);
    let second = cluster.leader();
    stamps.extend((0..5).map(|_| stamp(&cluster, second)));
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
    // MACHINE's time is the time of the newest entry: a machine without
    // #[tick] makes none while idle, and the next write moves it on.
    let now = |c: &Cluster| -> i64 {
        let map: Vec<(String, i64)> = redis::from_redis_value(c.via(second, &["MACHINE"])).unwrap();
        map[1].1
    };
    let before = now(&cluster);
    assert!(before >= *stamps.last().unwrap(), "{before} {stamps:?}");
    stamp(&cluster, second);
    assert!(now(&cluster) > before);
}
