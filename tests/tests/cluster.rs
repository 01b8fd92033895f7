//! Clusters of real node processes: joining, redirects, membership, failover
//! and restarts.

use redis::Value;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uhaha_tests::{
    dir_arg, error_text, eventually, query_following, Cluster, NodeProcess, PATIENCE,
};

const TICKET: &str = env!("CARGO_BIN_EXE_ticket-node");

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

#[test]
fn three_nodes_form_by_join_and_followers_redirect() {
    let cluster = Cluster::start(TICKET, 3, &[]);
    let leader = cluster.leader();
    assert_eq!(leader, 0, "the bootstrapping node leads a quiet cluster");
    // The last joiner's promotion commits on a majority; node 3 sees it
    // when it is applied there.
    let list: Vec<Vec<String>> = eventually("node 3 to list three voters", || {
        let list: Vec<Vec<String>> =
            redis::from_redis_value(cluster.query(2, &["RAFT", "SERVER", "LIST"]).unwrap())
                .unwrap();
        let voters = list
            .iter()
            .filter(|row| row.last().is_some_and(|v| v == "true"));
        (voters.count() == 3)
            .then_some(list.clone())
            .ok_or(format!("{list:?}"))
    });
    for (i, row) in list.iter().enumerate() {
        assert_eq!(
            row[..4],
            ["id", &(i + 1).to_string(), "address", &cluster.addrs[i]]
        );
        assert_eq!(
            row[4..],
            [
                "leader",
                if i == 0 { "true" } else { "false" },
                "voter",
                "true"
            ]
        );
    }
    assert_eq!(cluster.query(0, &["TICKET"]).unwrap(), Value::Int(1));
    let moved = format!("MOVED 0 {}", cluster.addrs[0]);
    assert_eq!(error_text(cluster.query(1, &["TICKET"])), moved);
    assert_eq!(
        error_text(cluster.query(2, &["LAST"])),
        moved,
        "default reads go to the leader"
    );
    assert_eq!(error_text(cluster.query(2, &["MACHINE"])), moved);
    assert_eq!(
        cluster.ticket_via(2),
        2,
        "a client that follows MOVED gets its ticket"
    );
    assert_eq!(
        cluster.query(1, &["PING"]).unwrap(),
        Value::SimpleString("PONG".into())
    );

    let slots = cluster.query(1, &["CLUSTER", "SLOTS"]).unwrap();
    let (host, port) = cluster.addrs[0].rsplit_once(':').unwrap();
    let expected_slot = Value::Array(vec![Value::Array(vec![
        Value::Int(0),
        Value::Int(16383),
        Value::Array(vec![
            Value::BulkString(host.as_bytes().to_vec()),
            Value::Int(port.parse().unwrap()),
            Value::BulkString(format!("{:040x}", 1).into_bytes()),
        ]),
    ])]);
    assert_eq!(slots, expected_slot);
    let nodes = cluster.string(2, &["CLUSTER", "NODES"]);
    assert_eq!(nodes.lines().count(), 3);
    assert!(
        nodes.lines().next().unwrap().contains(" master - "),
        "{nodes}"
    );
    assert!(nodes.contains("myself,slave"), "{nodes}");
    let info = cluster.string(1, &["CLUSTER", "INFO"]);
    assert!(
        info.starts_with("cluster_state:ok\n") && info.contains("cluster_known_nodes:3\n"),
        "{info}"
    );
}

#[test]
fn a_cluster_client_of_the_redis_crate_follows_the_leader() {
    let cluster = Cluster::start(TICKET, 3, &[]);
    let client =
        redis::cluster::ClusterClient::new(vec![format!("redis://{}/", cluster.addrs[2])]).unwrap();
    let mut con = client.get_connection().unwrap();
    let first: i64 = redis::cmd("TICKET").query(&mut con).unwrap();
    let last: i64 = redis::cmd("LAST").query(&mut con).unwrap();
    assert_eq!((first, last), (1, 1));
}

#[test]
fn five_nodes_form_and_replicate() {
    let cluster = Cluster::start(TICKET, 5, &["--openreads"]);
    for expected in 1..=10 {
        assert_eq!(cluster.ticket_via(4), expected);
    }
    for i in 0..5 {
        cluster.wait_for_reply(i, &["LAST"], &Value::Int(10));
    }
    let info: Vec<String> = redis::from_redis_value(
        cluster
            .query(3, &["RAFT", "INFO", "num_peers", "voter"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info, ["num_peers", "4", "voter", "true"]);
}

#[test]
fn open_reads_are_served_by_followers() {
    let cluster = Cluster::start(TICKET, 3, &["--openreads"]);
    assert_eq!(cluster.ticket_via(0), 1);
    cluster.wait_for_reply(2, &["LAST"], &Value::Int(1));
    assert!(
        error_text(cluster.query(2, &["TICKET"])).starts_with("MOVED 0 "),
        "writes still go to the leader"
    );
}

#[test]
fn try_errors_and_clusterdown() {
    let mut cluster = Cluster::start(TICKET, 3, &["--try-errors"]);
    assert_eq!(
        error_text(cluster.query(1, &["TICKET"])),
        format!("TRY {}", cluster.addrs[0])
    );
    cluster.kill(0);
    cluster.kill(1);
    // Node 3 alone cannot elect a leader: it answers CLUSTERDOWN once it has
    // noticed the leader is gone.
    eventually("CLUSTERDOWN from the node left alone", || {
        let err = error_text(cluster.query(2, &["TICKET"]));
        err.starts_with("CLUSTERDOWN").then_some(()).ok_or(err)
    });
    assert_eq!(
        cluster.query(2, &["RAFT", "LEADER"]).unwrap(),
        Value::BulkString(vec![])
    );
    assert_eq!(
        error_text(cluster.query(2, &["CLUSTER", "SLOTS"])),
        "CLUSTERDOWN The cluster is down"
    );
}

#[test]
fn raft_commands_manage_membership() {
    let cluster = Cluster::start(TICKET, 3, &[]);
    let help: Vec<String> =
        redis::from_redis_value(cluster.query(1, &["RAFT", "HELP"]).unwrap()).unwrap();
    assert_eq!(help[0], "RAFT LEADER");
    assert_eq!(
        error_text(cluster.query(1, &["RAFT"])),
        "ERR wrong number of arguments, try RAFT HELP"
    );
    assert_eq!(
        error_text(cluster.query(1, &["RAFT", "BOGUS"])),
        "ERR unknown raft command 'raft bogus', try RAFT HELP"
    );
    assert_eq!(
        error_text(cluster.query(1, &["RAFT", "SERVER", "BOGUS"])),
        "ERR unknown raft command 'raft server bogus', try RAFT HELP"
    );
    let info: Vec<String> =
        redis::from_redis_value(cluster.query(1, &["RAFT", "INFO"]).unwrap()).unwrap();
    let keys: Vec<&String> = info.iter().step_by(2).collect();
    for key in [
        "applied_index",
        "commit_index",
        "id",
        "last_log_index",
        "latest_configuration",
        "logs_behind",
        "num_peers",
        "state",
        "term",
        "voter",
    ] {
        assert!(
            keys.iter().any(|k| *k == key),
            "RAFT INFO lacks {key}: {info:?}"
        );
    }
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "keys are sorted");
    let state: Vec<String> =
        redis::from_redis_value(cluster.query(1, &["RAFT", "INFO", "state"]).unwrap()).unwrap();
    assert_eq!(state, ["state", "Follower"]);
    let indexes: Vec<String> =
        redis::from_redis_value(cluster.query(0, &["RAFT", "INFO", "*_index"]).unwrap()).unwrap();
    assert_eq!(indexes.len(), 10, "{indexes:?}");
    // The cluster's commit index, which the leader's log reaches.
    let index = |key: &str| -> u64 {
        let at = indexes.iter().position(|k| k == key).unwrap();
        indexes[at + 1].parse().unwrap()
    };
    assert!(
        index("commit_index") >= index("applied_index"),
        "{indexes:?}"
    );
    assert_eq!(
        index("commit_index"),
        index("last_log_index"),
        "{indexes:?}"
    );

    // Membership changes go to the leader.
    let moved = format!("MOVED 0 {}", cluster.addrs[0]);
    assert_eq!(
        error_text(cluster.query(1, &["RAFT", "SERVER", "DEMOTE", "3"])),
        moved
    );
    assert_eq!(
        cluster
            .query(0, &["RAFT", "SERVER", "DEMOTE", "3"])
            .unwrap(),
        Value::Int(1)
    );
    // Committed on a majority, the change reaches node 3 when it does.
    cluster.wait_for_reply(2, &["RAFT", "INFO", "voter"], &strings(&["voter", "false"]));
    assert_eq!(
        cluster
            .query(0, &["RAFT", "SERVER", "PROMOTE", "3"])
            .unwrap(),
        Value::Int(1)
    );
    assert_eq!(
        error_text(cluster.query(0, &["RAFT", "SERVER", "PROMOTE", "9"])),
        "ERR server not found"
    );
    let reuse = error_text(cluster.query(0, &["RAFT", "SERVER", "ADD", "2", "127.0.0.1:1"]));
    assert!(reuse.contains("already a member"), "{reuse}");
    assert_eq!(
        error_text(cluster.query(0, &["RAFT", "SERVER", "ADD", "x", "a:1"])),
        "ERR node ids are numbers"
    );
    assert_eq!(
        error_text(cluster.query(0, &["RAFT", "SERVER", "ADD", "4", "a:1", "MAYBE"])),
        "ERR syntax error"
    );
}

#[test]
fn nonvoters_join_through_a_follower_and_can_be_promoted() {
    let cluster = Cluster::start(TICKET, 2, &[]);
    let dir = dir_arg(cluster.dir.path());
    let joiner = NodeProcess::start(
        TICKET,
        &["-n", "3", "-d", &dir, "-j", &cluster.addrs[1], "--nonvoter"],
    );
    let addr = joiner.addr.to_string();
    let list: Vec<Vec<String>> =
        redis::from_redis_value(cluster.query(0, &["RAFT", "SERVER", "LIST"]).unwrap()).unwrap();
    assert_eq!(
        list[2],
        ["id", "3", "address", &addr, "leader", "false", "voter", "false"]
    );
    assert_eq!(
        cluster
            .query(0, &["RAFT", "SERVER", "PROMOTE", "3"])
            .unwrap(),
        Value::Int(1)
    );
    eventually("node 2 to see node 3 promoted", || {
        let list: Vec<Vec<String>> =
            redis::from_redis_value(cluster.query(1, &["RAFT", "SERVER", "LIST"]).unwrap())
                .unwrap();
        (list[2][7] == "true")
            .then_some(())
            .ok_or(format!("{list:?}"))
    });
}

#[test]
fn a_removed_node_stops_taking_part() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    assert_eq!(cluster.ticket_via(0), 1);
    assert_eq!(
        cluster
            .query(0, &["RAFT", "SERVER", "REMOVE", "3"])
            .unwrap(),
        Value::Int(1)
    );
    cluster.nodes[2]
        .as_mut()
        .unwrap()
        .wait_for_line("removed from the cluster");
    let list: Vec<Value> =
        redis::from_redis_value(cluster.query(0, &["RAFT", "SERVER", "LIST"]).unwrap()).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        cluster.ticket_via(0),
        2,
        "the two remaining nodes still commit"
    );
    cluster.wait_for_reply(
        2,
        &["RAFT", "INFO", "state"],
        &strings(&["state", "Shutdown"]),
    );
    assert!(error_text(cluster.query(2, &["TICKET"])).starts_with("CLUSTERDOWN"));
    // An observation window, not synchronisation: longer than two election
    // timeouts (1 s at most each), within which a removed node that still
    // campaigned would have raised the term.
    std::thread::sleep(Duration::from_secs(2));
    let term: Vec<String> = redis::from_redis_value(
        cluster
            .query(0, &["RAFT", "INFO", "term", "state"])
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        term,
        ["state", "Leader", "term", "1"],
        "the removed node never disrupted the leader"
    );
}

#[test]
fn leader_kill_9_under_load_loses_and_repeats_no_ticket() {
    let mut cluster = Cluster::start(TICKET, 3, &["--openreads"]);
    let acked: Arc<Mutex<Vec<Vec<i64>>>> = Arc::default();
    let acks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let addrs = cluster.addrs.clone();
            let (acked, acks, stop) = (acked.clone(), acks.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    // Any node: a follower redirects to the leader.
                    let addr = &addrs[(w + n) % addrs.len()];
                    n += 1;
                    if let Ok(Value::Int(t)) =
                        query_following(addr, &["TICKET"], Duration::from_secs(1))
                    {
                        mine.push(t);
                        acks.fetch_add(1, Ordering::Relaxed);
                    }
                }
                acked.lock().unwrap().push(mine);
            })
        })
        .collect();
    // Waits until the writers have had `more` tickets acknowledged since
    // this was called.
    let progress = |more: usize| {
        let from = acks.load(Ordering::Relaxed);
        eventually(&format!("{more} more acknowledged tickets"), || {
            let now = acks.load(Ordering::Relaxed);
            (now >= from + more)
                .then_some(())
                .ok_or(format!("{} so far", now - from))
        })
    };
    progress(20);
    let before = cluster.leader();
    let killed_at = Instant::now();
    cluster.kill(before);
    let after = cluster.leader();
    assert_ne!(before, after);
    eprintln!("new leader after {:?}", killed_at.elapsed());
    progress(20);
    stop.store(true, Ordering::Relaxed);
    writers.into_iter().for_each(|w| w.join().unwrap());

    let acked = acked.lock().unwrap();
    for mine in acked.iter() {
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "one client's tickets increase: {mine:?}"
        );
    }
    let all: Vec<i64> = acked.iter().flatten().copied().collect();
    let unique: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "no ticket handed out twice");
    let max = *unique.last().unwrap();
    let next = cluster.ticket_via(after);
    assert!(
        next > max,
        "no acknowledged ticket lost: next {next} after {max}"
    );

    // The killed node comes back and catches up.
    cluster.restart(before);
    cluster.wait_for_reply(before, &["LAST"], &Value::Int(next));
}

#[test]
fn a_whole_cluster_restart_keeps_all_data() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    for expected in 1..=25 {
        assert_eq!(cluster.ticket_via(expected as usize % 3), expected);
    }
    for i in 0..3 {
        cluster.kill(i);
    }
    for i in 0..3 {
        cluster.nodes[i] = Some(cluster.spawn(i));
    }
    for node in cluster.nodes.iter_mut().flatten() {
        node.wait_ready();
    }
    let leader = cluster.leader();
    assert_eq!(cluster.query(leader, &["LAST"]).unwrap(), Value::Int(25));
    assert_eq!(cluster.ticket_via(leader), 26);
}

#[test]
fn bare_ports_bind_every_interface_and_advertise_loopback() {
    // uhaha's quick start form: `-a :11001`, then `-j :11001` (port 0 here).
    let dir = uhaha_tests::data_dir();
    let d = dir_arg(dir.path());
    let first = NodeProcess::start_at(TICKET, ":0", &["-n", "1", "-d", &d]);
    assert!(first.addr.ip().is_unspecified(), "{}", first.addr);
    let leader = format!("127.0.0.1:{}", first.addr.port());
    let join = format!(":{}", first.addr.port());
    let second = NodeProcess::start_at(TICKET, ":0", &["-n", "2", "-d", &d, "-j", &join]);
    let follower = format!("127.0.0.1:{}", second.addr.port());

    // Both are known by addresses that a client on this machine can dial.
    assert_known_by(&leader, &follower);
}

/// Checks, through the follower at `follower`, that the two nodes are
/// listed by `leader` and `follower`, that the follower sends writes to
/// `leader`, and that a client that follows it gets the first ticket.
fn assert_known_by(leader: &str, follower: &str) {
    let mut con = redis::Client::open(format!("redis://{follower}/"))
        .and_then(|c| c.get_connection())
        .unwrap();
    let list: Vec<Vec<String>> = uhaha_tests::command(&["RAFT", "SERVER", "LIST"])
        .query(&mut con)
        .unwrap();
    let addrs: Vec<&str> = list.iter().map(|row| row[3].as_str()).collect();
    assert_eq!(addrs, [leader, follower]);
    assert_eq!(
        error_text(uhaha_tests::command(&["TICKET"]).query::<Value>(&mut con)),
        format!("MOVED 0 {leader}")
    );
    assert_eq!(
        query_following(follower, &["TICKET"], PATIENCE),
        Ok(Value::Int(1))
    );
}

/// `--advertise` is the address the cluster stores and sends clients to: a
/// node bound to every interface that advertises another address of this
/// machine (127.0.0.2, which only the wildcard bind receives) is joined,
/// listed and redirected to by that address alone.
#[test]
fn a_node_is_joined_listed_and_redirected_to_by_its_advertised_address() {
    // The port must be known before the node starts, to advertise it:
    // take a free one and give it back (a race with other tests, rare).
    let port = std::net::TcpListener::bind("0.0.0.0:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let advertised = format!("127.0.0.2:{port}");
    let dir = uhaha_tests::data_dir();
    let d = dir_arg(dir.path());
    let _first = NodeProcess::start_at(
        TICKET,
        &format!("0.0.0.0:{port}"),
        &["-n", "1", "-d", &d, "--advertise", &advertised],
    );
    let second = NodeProcess::start_at(
        TICKET,
        "127.0.0.1:0",
        &["-n", "2", "-d", &d, "-j", &advertised],
    );
    let follower = second.addr.to_string();
    assert_known_by(&advertised, &follower);
}

/// Found by uhaha-chaos (seed 1, `--nemesis kill,pause`, a stale read):
/// openraft (0.9, and 0.10 by default) lets a leader that is killed and
/// restarted before its followers notice resume its old term at once, and
/// computes reads' index from the commit index it restored, which is saved
/// lazily and may be older than writes it acknowledged. A restarted node
/// must instead learn the commit index from a leader of a term that began
/// after the restart.
#[test]
fn a_restarted_leader_does_not_resume_its_old_term() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    let leader = cluster.leader();
    let last = cluster.ticket_via(leader);
    let old_term = cluster.raft_info(leader, "term");
    cluster.kill(leader);
    // Back well within an election timeout: the followers have not moved on.
    cluster.nodes[leader] = Some(cluster.spawn(leader));
    let now = cluster.leader();
    assert!(
        now != leader || cluster.raft_info(now, "term") != old_term,
        "node {} leads term {old_term} again after a restart",
        leader + 1
    );
    assert!(cluster.ticket_via(leader) > last);
}

/// Found by uhaha-chaos (5 nodes, seed 12, `member`): the leader asked to
/// remove itself stopped Raft as soon as it appended the configuration
/// without itself, before that was committed, and answered the removal
/// with an error although it took effect.
#[test]
fn the_leader_can_remove_itself() {
    let cluster = Cluster::start(TICKET, 3, &[]);
    let leader = cluster.leader();
    let id = (leader + 1).to_string();
    assert_eq!(
        cluster.query(leader, &["RAFT", "SERVER", "REMOVE", &id]),
        Ok(Value::Int(1))
    );
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let list: Vec<Value> =
        redis::from_redis_value(cluster.via(others[0], &["RAFT", "SERVER", "LIST"])).unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert!(cluster.ticket_via(others[1]) > 0, "the two others go on");
    cluster.wait_for_reply(
        leader,
        &["RAFT", "INFO", "state"],
        &strings(&["state", "Shutdown"]),
    );
}

/// `RAFT TRANSFER` hands leadership over on the leader (to a chosen voter or
/// the most caught-up one), redirects on a follower, refuses a non-member,
/// and the cluster keeps its state and takes writes through the new leader.
#[test]
fn raft_transfer_hands_leadership_over() {
    let cluster = Cluster::start(TICKET, 3, &[]);
    let first = cluster.leader();
    let last = cluster.ticket_via(first);
    let follower = (first + 1) % 3;
    assert!(error_text(cluster.query(follower, &["RAFT", "TRANSFER"])).starts_with("MOVED "));
    assert_eq!(
        error_text(cluster.query(first, &["RAFT", "TRANSFER", "9"])),
        "ERR server not found"
    );
    assert_eq!(
        error_text(cluster.query(first, &["RAFT", "TRANSFER", "1", "2"])),
        "ERR wrong number of arguments, try RAFT HELP"
    );

    // To the most caught-up voter: some other node.
    let moved = cluster.string(first, &["RAFT", "TRANSFER"]);
    let second = cluster.leader();
    assert_ne!(second, first);
    assert_eq!(moved, cluster.addrs[second]);
    assert_eq!(cluster.ticket_via(second), last + 1);

    // To a chosen voter, by id (node i has id i + 1).
    let third = (0..3).find(|&i| i != second && i != first).unwrap();
    let id = (third + 1).to_string();
    let moved = cluster.string(second, &["RAFT", "TRANSFER", &id]);
    assert_eq!(moved, cluster.addrs[third]);
    assert_eq!(cluster.leader(), third);
    assert_eq!(cluster.ticket_via(third), last + 2);
}

/// A leader told to stop (`SHUTDOWN`, as on SIGTERM) first hands leadership
/// to another voter, so that the others do not wait out an election
/// timeout; the cluster goes on from where it was.
#[test]
fn a_stopping_leader_hands_leadership_over() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    let first = cluster.leader();
    let last = cluster.ticket_via(first);
    let _ = cluster.query(first, &["SHUTDOWN"]);
    let node = cluster.nodes[first].as_mut().unwrap();
    node.has_logged("handing leadership to node");
    assert!(node.wait_exit(Duration::from_secs(20)).is_some());
    cluster.nodes[first] = None;
    let second = cluster.leader();
    assert_ne!(second, first);
    assert_eq!(cluster.ticket_via(second), last + 1);
}

/// What a client saw while writing through a rolling restart.
struct Writes {
    acknowledged: Vec<i64>,
    failed: usize,
    longest_pause: Duration,
}

/// Writes `TICKET` through `uhaha::Client` (which follows the leader) until
/// `stop`, noting each acknowledged ticket (and counting them in `acked`)
/// and the longest time between two acknowledgements.
fn write_tickets(addrs: String, stop: Arc<AtomicBool>, acked: Arc<AtomicUsize>) -> Writes {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut client = uhaha::Client::connect(&addrs).await.unwrap();
        let mut writes = Writes {
            acknowledged: Vec::new(),
            failed: 0,
            longest_pause: Duration::ZERO,
        };
        let mut last = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            match client.call(&["TICKET"]).await {
                Ok(uhaha::Reply::Integer(n)) => {
                    writes.longest_pause = writes.longest_pause.max(last.elapsed());
                    last = Instant::now();
                    writes.acknowledged.push(n);
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                _ => writes.failed += 1,
            }
        }
        writes
    })
}

#[test]
fn a_rolling_restart_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start(TICKET, 3, &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (addrs, stop, acked) = (cluster.addrs.join(","), stop.clone(), acked.clone());
        std::thread::spawn(move || write_tickets(addrs, stop, acked))
    };
    // Each node in turn: stopped (a leader hands over first), started
    // again, and ready (a member that knows the leader) before the next,
    // with the client's writes acknowledged in between.
    for i in 0..3 {
        let before = acked.load(Ordering::SeqCst);
        eventually("the client's writes to go on", || {
            let now = acked.load(Ordering::SeqCst);
            (now >= before + 10).then_some(()).ok_or(format!("{now}"))
        });
        let _ = cluster.query(i, &["SHUTDOWN"]);
        let node = cluster.nodes[i].as_mut().unwrap();
        assert!(node.wait_exit(PATIENCE).is_some(), "node {} stops", i + 1);
        cluster.nodes[i] = None;
        cluster.restart(i);
        eventually("the restarted node to be ready", || {
            let health = cluster.string(i, &["HEALTH"]);
            (health == "OK").then_some(()).ok_or(health)
        });
    }
    stop.store(true, Ordering::SeqCst);
    let writes = writer.join().unwrap();
    let tickets = &writes.acknowledged;
    assert!(
        tickets.windows(2).all(|w| w[0] < w[1]),
        "tickets repeat or go back"
    );
    let last = *tickets.last().expect("acknowledged writes");
    let next = cluster.ticket_via(cluster.leader());
    assert!(next > last, "an acknowledged ticket was lost");
    eprintln!(
        "rolling restart: {} writes acknowledged, {} failed, longest pause {:?}",
        tickets.len(),
        writes.failed,
        writes.longest_pause
    );
}
