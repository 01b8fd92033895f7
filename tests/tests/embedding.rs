//! Nodes embedded in this test process: built in code, with hooks, reached
//! through their local clients and over TCP, and shut down without leaving
//! a port open or a file behind.

use std::sync::atomic::{AtomicUsize, Ordering};
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
    for node in nodes {
        node.shutdown().await;
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
    let dir = data_dir();
    let opened = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicUsize::new(0));
    let (o, c) = (opened.clone(), closed.clone());
    let node = Node::<Counter>::builder()
        .config(Config {
            auth: None,
            ..config(1, dir.path(), None)
        })
        .on_connect(move |conn| {
            o.fetch_add(1, Ordering::SeqCst);
            // The local client has no address: let it in, refuse others.
            if conn.addr().port() == 0 {
                Ok(Some(Arc::new(conn.id()) as uhaha::ConnData))
            } else {
                Err("no remote clients here".into())
            }
        })
        .on_disconnect(move |conn| {
            assert!(conn.data::<u64>().is_some());
            c.fetch_add(1, Ordering::SeqCst);
        })
        .start()
        .await
        .unwrap();

    let mut local = node.client().await.unwrap();
    assert_eq!(local.call(&["INCR"]).await.unwrap(), Reply::Integer(1));
    drop(local);

    let mut raw = tokio::net::TcpStream::connect(node.addr()).await.unwrap();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    raw.write_all(b"PING\r\n").await.unwrap();
    let mut refusal = String::new();
    tokio::time::timeout(PATIENCE, raw.read_to_string(&mut refusal))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(refusal, "-ERR no remote clients here\r\n");

    let deadline = tokio::time::Instant::now() + PATIENCE;
    while closed.load(Ordering::SeqCst) < 1 {
        assert!(tokio::time::Instant::now() < deadline, "no disconnect hook");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(opened.load(Ordering::SeqCst), 2);
    node.shutdown().await;
}
