//! Nodes embedded in this test process: built in code, with hooks, reached
//! through their local clients and over TCP, and shut down without leaving
//! a port open or a file behind.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uhaha::{Client, Config, Node, Reply, Role};
use uhaha_tests::{data_dir, PATIENCE};

/// A counter, replicated.
#[uhaha::machine(name = "counter", version = "1.0.0")]
#[derive(Default)]
struct Counter {
    value: i64,
}

#[uhaha::machine]
impl Counter {
    /// Adds one and returns the new value.
    #[write]
    fn incr(&mut self) -> i64 {
        self.value += 1;
        self.value
    }

    /// The value.
    #[read]
    fn get(&self) -> i64 {
        self.value
    }

    /// What the connection hook attached to this connection.
    #[intermediate]
    fn whoami(conn: &uhaha::Conn) -> Option<String> {
        conn.data::<String>().cloned()
    }
}

fn config(id: u64, dir: &std::path::Path, join: Option<String>) -> Config {
    Config {
        id,
        addr: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        join,
        auth: Some("embedded".into()),
        ..Config::default()
    }
}

/// Roles seen by each node's role hook, in order.
type Roles = Arc<Mutex<Vec<(u64, Role)>>>;

async fn start(
    id: u64,
    dir: &std::path::Path,
    join: Option<String>,
    roles: &Roles,
) -> Node<Counter> {
    let roles = roles.clone();
    Node::<Counter>::builder()
        .config(config(id, dir, join))
        .on_role_change(move |role| roles.lock().unwrap().push((id, role)))
        .start()
        .await
        .unwrap_or_else(|e| panic!("start node {id}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedded_cluster_runs_and_leaves_nothing_behind() {
    let runtime = tokio::runtime::Handle::current().metrics();
    let tasks_before = runtime.num_alive_tasks();
    let dir = data_dir();
    let roles = Roles::default();
    let first = start(1, dir.path(), None, &roles).await;
    let seed = first.addr().to_string();
    let second = start(2, dir.path(), Some(seed.clone()), &roles).await;
    let third = start(3, dir.path(), Some(seed.clone()), &roles).await;
    let nodes = [first, second, third];

    // Local clients need no socket; a follower's passes writes on.
    for (i, node) in nodes.iter().enumerate() {
        let mut client = node.client().await.unwrap();
        assert_eq!(
            client.call(&["INCR"]).await.unwrap(),
            Reply::Integer(i as i64 + 1)
        );
    }
    let mut remote = Client::builder()
        .auth("embedded")
        .connect(&nodes[2].addr().to_string())
        .await
        .unwrap();
    assert_eq!(remote.call(&["GET"]).await.unwrap(), Reply::Integer(3));
    assert_eq!(
        remote.addr(),
        Some(seed.as_str()),
        "the read followed the leader"
    );

    let seen = roles.lock().unwrap().clone();
    assert!(seen.contains(&(1, Role::Leader)), "{seen:?}");
    assert!(
        seen.contains(&(2, Role::Learner)) || seen.contains(&(2, Role::Follower)),
        "{seen:?}"
    );

    let addrs: Vec<_> = nodes.iter().map(|n| n.addr()).collect();
    drop(remote);
    for node in nodes {
        node.shutdown().await;
    }
    // Every task the nodes started has ended when `shutdown` returns; a
    // few of openraft's own (its ticker, vote requests) see its shutdown
    // signal at their next poll, so the count may take a moment to settle.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while runtime.num_alive_tasks() > tasks_before {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} tasks of the nodes outlived their shutdown",
            runtime.num_alive_tasks() - tasks_before
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for addr in addrs {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{addr} still listens"
        );
    }
    let last = roles.lock().unwrap().clone();
    for id in 1..=3 {
        assert_eq!(
            last.iter().rev().find(|(n, _)| *n == id).map(|r| r.1),
            Some(Role::Shutdown)
        );
    }
    let path = dir.path().to_path_buf();
    dir.close().unwrap();
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_hooks_accept_refuse_and_attach_data() {
    use std::sync::atomic::AtomicBool;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = data_dir();
    let refuse = Arc::new(AtomicBool::new(true));
    let closed = Arc::new(Mutex::new(Vec::new()));
    let (r, c) = (refuse.clone(), closed.clone());
    let node = Node::<Counter>::builder()
        .config(Config {
            auth: None,
            ..config(1, dir.path(), None)
        })
        .on_connect(move |conn| {
            if r.load(Ordering::SeqCst) {
                Err("no clients now".into())
            } else {
                Ok(Some(
                    Arc::new(format!("client {}", conn.id())) as uhaha::ConnData
                ))
            }
        })
        .on_disconnect(move |conn| c.lock().unwrap().push(conn.data::<String>().cloned()))
        .start()
        .await
        .unwrap();

    // The hooks are for the node's clients, not for its local client.
    let mut local = node.client().await.unwrap();
    assert_eq!(local.call(&["WHOAMI"]).await.unwrap(), Reply::Null);

    let mut raw = tokio::net::TcpStream::connect(node.addr()).await.unwrap();
    raw.write_all(b"PING\r\n").await.unwrap();
    let mut refusal = String::new();
    tokio::time::timeout(PATIENCE, raw.read_to_string(&mut refusal))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refusal, "-ERR no clients now\r\n");

    refuse.store(false, Ordering::SeqCst);
    let mut remote = Client::connect(&node.addr().to_string()).await.unwrap();
    let Reply::Bulk(name) = remote.call(&["WHOAMI"]).await.unwrap() else {
        panic!("no data attached");
    };
    assert!(name.starts_with(b"client "));
    drop(remote);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while closed.lock().unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no disconnect hook");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let name = String::from_utf8(name.to_vec()).unwrap();
    assert_eq!(*closed.lock().unwrap(), [Some(name)]);
    node.shutdown().await;
}

#[tokio::test]
async fn a_bad_config_is_a_typed_error_before_anything_starts() {
    let dir = data_dir();
    let refused = |config: Config| async move {
        match Node::<Counter>::builder().config(config).start().await {
            Err(uhaha::StartError::Config(e)) => e,
            Err(other) => panic!("not a config error: {other}"),
            Ok(_) => panic!("a node started with a bad config"),
        }
    };
    let good = config(1, dir.path(), None);
    let cases = [
        (
            Config {
                tls_cert: Some("cert.pem".into()),
                ..good.clone()
            },
            uhaha::ConfigError::TlsHalf,
        ),
        (
            Config {
                tick: Duration::ZERO,
                ..good.clone()
            },
            uhaha::ConfigError::ZeroTick,
        ),
        (
            Config {
                snapshot_logs: Some(0),
                ..good.clone()
            },
            uhaha::ConfigError::ZeroSnapshotLogs,
        ),
        (
            Config {
                restore: Some("backup.snap".into()),
                join: Some("127.0.0.1:1".into()),
                ..good.clone()
            },
            uhaha::ConfigError::RestoreWithJoin,
        ),
    ];
    for (config, expected) in cases {
        assert_eq!(refused(config).await, expected);
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing was created"
    );
}

/// An embedded node installs no logger of its own unless its config names
/// a level; then it logs to stderr at that level (the only test in this
/// process that does, so the process-wide logger is its to check).
#[tokio::test]
async fn an_embedded_node_logs_at_its_configs_level_only_when_asked() {
    use uhaha::tracing::level_filters::LevelFilter;
    let dir = data_dir();
    let quiet = Node::<Counter>::builder()
        .config(config(1, dir.path(), None))
        .start()
        .await
        .unwrap();
    assert!(
        !uhaha::tracing::dispatcher::has_been_set(),
        "a node without a level left the program's logging alone"
    );
    quiet.shutdown().await;
    let other = data_dir();
    let warn = Node::<Counter>::builder()
        .config(Config {
            log: Some(uhaha::LogLevel::Warn),
            ..config(1, other.path(), None)
        })
        .start()
        .await
        .unwrap();
    assert!(uhaha::tracing::dispatcher::has_been_set());
    assert_eq!(LevelFilter::current(), LevelFilter::WARN);
    warn.shutdown().await;
}
