//! Typed arguments and replies end to end, through a service whose commands
//! use every supported type.

use redis::Value;
use uhaha_tests::{data_dir, dir_arg, error_text, NodeProcess};

const TYPED: &str = env!("CARGO_BIN_EXE_typed");

#[test]
fn arguments_are_parsed_into_their_types_and_bad_ones_refused() {
    let dir = data_dir();
    let node = NodeProcess::start(TYPED, &["-d", &dir_arg(dir.path())]);
    let mut con = node.client();
    let q = |con: &mut redis::Connection, args: &[&str]| {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query::<Value>(con)
    };
    assert_eq!(q(&mut con, &["INCRBY", "c", "5"]).unwrap(), Value::Int(5));
    assert_eq!(q(&mut con, &["incrby", "c", "-7"]).unwrap(), Value::Int(-2));
    assert_eq!(
        error_text(q(&mut con, &["INCRBY", "c", "x"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        error_text(q(&mut con, &["INCRBY", "c", "99999999999999999999"])),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        q(&mut con, &["INCRBY", "max", "9223372036854775807"]).unwrap(),
        Value::Int(i64::MAX)
    );
    assert_eq!(
        error_text(q(&mut con, &["INCRBY", "max", "1"])),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(
        error_text(q(&mut con, &["INCRBY", "c"])),
        "ERR wrong number of arguments for 'incrby' command"
    );
    assert_eq!(
        q(&mut con, &["RATIO", "1", "4"]).unwrap(),
        Value::BulkString(b"0.25".to_vec())
    );
    assert_eq!(
        error_text(q(&mut con, &["RATIO", "1", "abc"])),
        "ERR value is not a valid float"
    );
    assert_eq!(q(&mut con, &["FLAG", "true"]).unwrap(), Value::Int(1));
    assert_eq!(q(&mut con, &["FLAG", "1", "yes"]).unwrap(), Value::Int(0));
    assert_eq!(
        error_text(q(&mut con, &["FLAG", "maybe"])),
        "ERR value is not a valid boolean"
    );
    assert_eq!(
        error_text(q(&mut con, &["FLAG", "1", "2", "3"])),
        "ERR wrong number of arguments for 'flag' command"
    );

    let binary = vec![0u8, 255, 13, 10, 7];
    let _: () = redis::cmd("SET")
        .arg("k1")
        .arg(&binary)
        .query(&mut con)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("k2")
        .arg("v")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        redis::cmd("GET")
            .arg("k1")
            .query::<Vec<u8>>(&mut con)
            .unwrap(),
        binary
    );
    assert_eq!(q(&mut con, &["GET", "none"]).unwrap(), Value::Nil);
    assert_eq!(
        redis::cmd("KEYS").query::<Vec<String>>(&mut con).unwrap(),
        ["k1", "k2"]
    );
    assert_eq!(
        q(&mut con, &["DEL", "k1", "k2", "k3"]).unwrap(),
        Value::Int(2)
    );
    assert_eq!(
        error_text(q(&mut con, &["DEL"])),
        "ERR wrong number of arguments for 'del' command"
    );
    assert_eq!(q(&mut con, &["KEYS"]).unwrap(), Value::Array(vec![]));
    let counters: Vec<(String, i64)> = redis::cmd("COUNTERS").query(&mut con).unwrap();
    assert_eq!(
        counters,
        [("c".to_string(), -2), ("max".to_string(), i64::MAX)]
    );
}

#[test]
fn machine_time_strictly_increases_across_writes_and_restarts() {
    let dir = data_dir();
    let args = ["-d", &dir_arg(dir.path())];
    let mut node = NodeProcess::start(TYPED, &args);
    let mut con = node.client();
    let mut stamps: Vec<u64> = (0..10)
        .map(|_| redis::cmd("STAMP").query(&mut con).unwrap())
        .collect();
    node.kill();
    let node = NodeProcess::start(TYPED, &args);
    let mut con = node.client();
    stamps.extend((0..10).map(|_| redis::cmd("STAMP").query::<u64>(&mut con).unwrap()));
    assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{stamps:?}");
}
