//! The nodes: real processes of the service binary, started, killed,
//! paused, removed and added back as the nemesis asks, each with its log
//! in `<out>/nodes/node-<id>.log`.

use crate::net::Net;
use crate::resp::{self, Reply};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Child;
use tokio::sync::{oneshot, watch};

/// The line a node logs when it listens, followed by its address.
const LISTENING: &str = "server listening at ";
/// The line a node logs when it serves commands.
const READY: &str = "logs loaded: ready for commands";
/// How long a node may take to listen or to become ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long an administrative request may take.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(2);

/// How to start the nodes.
pub struct Spec {
    pub bin: PathBuf,
    pub extra: Vec<String>,
    /// `libfaketime`, when the nodes' clocks are to be moved.
    pub faketime: Option<PathBuf>,
    pub out: PathBuf,
}

/// One node.
pub struct Node {
    /// Its Raft id, from 1.
    pub id: usize,
    /// The address clients and peers reach it at (known once it listens).
    pub addr: String,
    dir: PathBuf,
    child: Option<Child>,
    ready: watch::Receiver<bool>,
    /// Stopped with SIGSTOP.
    pub paused: bool,
    /// Taken out of the cluster with `RAFT SERVER REMOVE`.
    pub removed: bool,
}

impl Node {
    /// Whether its process runs (paused or not).
    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    /// Whether it can be asked something now.
    pub fn reachable(&self) -> bool {
        self.running() && !self.paused
    }

    fn clock_file(&self, out: &Path) -> PathBuf {
        out.join(format!("clock-{}", self.id))
    }
}

/// The cluster under test.
pub struct Cluster {
    // Fields drop in order: the processes are killed before their
    // namespaces go.
    pub nodes: Vec<Node>,
    pub net: Net,
    pub spec: Spec,
}

impl Cluster {
    /// Starts node 1, then the others joining it, and waits until all
    /// serve.
    pub async fn start(spec: Spec, net: Net, n: usize) -> Result<Cluster, String> {
        std::fs::create_dir_all(spec.out.join("nodes")).map_err(|e| e.to_string())?;
        let mut cluster = Cluster {
            nodes: Vec::new(),
            net,
            spec,
        };
        for i in 0..n {
            let dir = cluster
                .spec
                .out
                .join("data")
                .join(format!("node-{}", i + 1));
            let _ = std::fs::remove_dir_all(&dir);
            cluster.nodes.push(Node {
                id: i + 1,
                addr: String::new(),
                dir,
                child: None,
                ready: watch::channel(false).1,
                paused: false,
                removed: false,
            });
            cluster.set_clock(i, 0)?;
            let join = (i > 0).then(|| cluster.nodes[0].addr.clone());
            cluster.spawn(i, join).await?;
            cluster.wait_ready(i).await?;
        }
        Ok(cluster)
    }

    /// Starts node `i`'s process (joining `join` when given) and waits
    /// until it listens.
    async fn spawn(&mut self, i: usize, join: Option<String>) -> Result<(), String> {
        let node = &self.nodes[i];
        let listen = if node.addr.is_empty() {
            self.net.listen_addr(i)
        } else {
            node.addr.clone()
        };
        let mut cmd = self.net.command(i, &self.spec.bin.to_string_lossy());
        cmd.args(["-n", &node.id.to_string(), "-a", &listen, "-d"])
            .arg(&node.dir)
            .args(&self.spec.extra);
        if let Some(leader) = &join {
            cmd.args(["-j", leader]);
        }
        if let Some(lib) = &self.spec.faketime {
            // Only the wall clock moves: Raft's timers use the monotonic
            // clock, which a real clock jump leaves alone too.
            cmd.env("LD_PRELOAD", lib)
                .env("FAKETIME_TIMESTAMP_FILE", node.clock_file(&self.spec.out))
                .env("FAKETIME_CACHE_DURATION", "1")
                .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("start {}: {e}", self.spec.bin.display()))?;
        let log = self
            .spec
            .out
            .join("nodes")
            .join(format!("node-{}.log", node.id));
        let (listening, ready) = follow_log(child.stderr.take().expect("piped"), &log).await?;
        let addr = tokio::time::timeout(START_TIMEOUT, listening)
            .await
            .map_err(|_| {
                format!(
                    "node {} did not listen within {START_TIMEOUT:?}; see {}",
                    node.id,
                    log.display()
                )
            })?
            .map_err(|_| {
                format!(
                    "node {} exited before it listened; see {}",
                    node.id,
                    log.display()
                )
            })?;
        let node = &mut self.nodes[i];
        node.addr = addr;
        node.child = Some(child);
        node.ready = ready;
        node.paused = false;
        Ok(())
    }

    /// Waits until node `i` logs that it serves commands.
    pub async fn wait_ready(&mut self, i: usize) -> Result<(), String> {
        let node = &mut self.nodes[i];
        let id = node.id;
        tokio::time::timeout(START_TIMEOUT, node.ready.wait_for(|r| *r))
            .await
            .map_err(|_| format!("node {id} was not ready within {START_TIMEOUT:?}"))?
            .map_err(|_| format!("node {id} exited before it was ready"))?;
        Ok(())
    }

    /// Kills node `i` at once (`kill -9`).
    pub async fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        self.nodes[i].paused = false;
    }

    /// Starts a killed node again with its data (never a removed one,
    /// which [`Cluster::rejoin`] adds back).
    pub async fn restart(&mut self, i: usize) -> Result<(), String> {
        if self.nodes[i].removed {
            return Err(format!("node {} is out of the cluster", i + 1));
        }
        self.spawn(i, None).await?;
        self.wait_ready(i).await
    }

    /// Sends SIGSTOP or SIGCONT.
    pub fn signal(&mut self, i: usize, stop: bool) {
        let node = &mut self.nodes[i];
        if let Some(pid) = node.child.as_ref().and_then(Child::id) {
            let sig = if stop { libc::SIGSTOP } else { libc::SIGCONT };
            // SAFETY: kill(2) with a pid of our own child process.
            unsafe { libc::kill(pid as libc::pid_t, sig) };
            node.paused = stop;
        }
    }

    /// Moves node `i`'s wall clock `offset` seconds away from the real one
    /// (within a second: libfaketime rereads the file once a second).
    pub fn set_clock(&self, i: usize, offset: i64) -> Result<(), String> {
        if self.spec.faketime.is_none() {
            return Ok(());
        }
        let path = self.nodes[i].clock_file(&self.spec.out);
        std::fs::write(&path, format!("{offset:+}\n"))
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The index of the node the reachable nodes name as leader, if they
    /// agree on one that is reachable.
    pub async fn leader(&self) -> Option<usize> {
        for node in self.nodes.iter().filter(|n| n.reachable() && !n.removed) {
            if let Ok(Reply::Bulk(Some(addr))) =
                resp::once(&node.addr, &["RAFT", "LEADER"], ADMIN_TIMEOUT).await
            {
                let addr = String::from_utf8_lossy(&addr).into_owned();
                if let Some(i) = self
                    .nodes
                    .iter()
                    .position(|n| n.addr == addr && n.reachable())
                {
                    return Some(i);
                }
            }
        }
        None
    }

    /// Takes node `i` out of the cluster through the leader, then stops it
    /// and deletes its data.
    pub async fn remove(&mut self, i: usize) -> Result<(), String> {
        let leader = self.leader().await.ok_or("no leader to ask")?;
        let id = self.nodes[i].id.to_string();
        match resp::once(
            &self.nodes[leader].addr,
            &["RAFT", "SERVER", "REMOVE", &id],
            Duration::from_secs(5),
        )
        .await
        {
            Ok(Reply::Int(1)) | Ok(Reply::Status(_)) => {}
            Ok(other) => return Err(format!("RAFT SERVER REMOVE {id}: {other:?}")),
            Err(e) => return Err(format!("RAFT SERVER REMOVE {id}: {e}")),
        }
        self.kill(i).await;
        self.nodes[i].removed = true;
        let _ = std::fs::remove_dir_all(&self.nodes[i].dir);
        Ok(())
    }

    /// Adds a removed node back, empty, joining through the leader.
    pub async fn rejoin(&mut self, i: usize) -> Result<(), String> {
        // The others may still be electing a leader (the removed node may
        // have been it).
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        let leader = loop {
            match self.leader().await {
                Some(leader) => break leader,
                None if tokio::time::Instant::now() > deadline => {
                    return Err("no leader to join".into())
                }
                None => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let via = self.nodes[leader].addr.clone();
        self.spawn(i, Some(via)).await?;
        self.wait_ready(i).await?;
        self.nodes[i].removed = false;
        Ok(())
    }

    /// Undoes every process fault: resumes paused nodes, restarts killed
    /// ones, adds removed ones back, and waits until all serve and agree on
    /// a leader.
    pub async fn recover(&mut self) -> Result<(), String> {
        for i in 0..self.nodes.len() {
            self.set_clock(i, 0)?;
            if self.nodes[i].paused {
                self.signal(i, false);
            }
        }
        for i in 0..self.nodes.len() {
            if !self.nodes[i].running() && !self.nodes[i].removed {
                self.restart(i).await?;
            }
        }
        for i in 0..self.nodes.len() {
            if self.nodes[i].removed {
                let deadline = tokio::time::Instant::now() + START_TIMEOUT;
                while let Err(e) = self.rejoin(i).await {
                    if tokio::time::Instant::now() > deadline {
                        return Err(format!("node {} could not rejoin: {e}", i + 1));
                    }
                    self.kill(i).await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        self.agree().await
    }

    /// Waits until every node names the same reachable leader.
    async fn agree(&self) -> Result<(), String> {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        loop {
            let mut named = Vec::new();
            for node in &self.nodes {
                named.push(
                    match resp::once(&node.addr, &["RAFT", "LEADER"], ADMIN_TIMEOUT).await {
                        Ok(Reply::Bulk(Some(a))) => Some(String::from_utf8_lossy(&a).into_owned()),
                        _ => None,
                    },
                );
            }
            let first = named[0].clone();
            if first.is_some() && named.iter().all(|n| *n == first) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("the nodes did not agree on a leader within {START_TIMEOUT:?} after the faults were healed: {named:?}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops every node.
    pub async fn stop(&mut self) {
        for i in 0..self.nodes.len() {
            self.signal(i, false);
            self.kill(i).await;
        }
    }
}

/// Copies a node's stderr to its log file (appending: a restarted node
/// continues the same file) and reports when it listens and when it is
/// ready.
async fn follow_log(
    stderr: tokio::process::ChildStderr,
    log: &Path,
) -> Result<(oneshot::Receiver<String>, watch::Receiver<bool>), String> {
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .await
        .map_err(|e| format!("{}: {e}", log.display()))?;
    let (listening_tx, listening) = oneshot::channel();
    let (ready_tx, ready) = watch::channel(false);
    tokio::spawn(async move {
        let mut listening_tx = Some(listening_tx);
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = file.write_all(line.as_bytes()).await;
            let _ = file.write_all(b"\n").await;
            if let Some(at) = line.find(LISTENING) {
                if let Some(tx) = listening_tx.take() {
                    let _ = tx.send(line[at + LISTENING.len()..].trim().to_string());
                }
            }
            if line.contains(READY) {
                let _ = ready_tx.send(true);
            }
        }
        let _ = file.flush().await;
    });
    Ok((listening, ready))
}
