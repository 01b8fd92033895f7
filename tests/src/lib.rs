//! Helpers for black-box tests: start real node processes on ephemeral
//! loopback ports, wait for their readiness line, talk to them with the
//! `redis` crate or raw bytes, and clean up whatever happens.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The line a node logs when it serves commands.
pub const READY: &str = "logs loaded: ready for commands";
/// How long a cluster may take to agree on a leader or a node to catch up.
pub const PATIENCE: Duration = Duration::from_secs(20);
/// How long a node may take to become ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running node process, killed when dropped.
pub struct NodeProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    lines: mpsc::Receiver<String>,
    /// Every line received so far, for [`NodeProcess::has_logged`].
    history: Vec<String>,
}

impl NodeProcess {
    /// Starts `binary` with `args` plus `-a 127.0.0.1:0` (an ephemeral
    /// port) and waits until it logs [`READY`].
    pub fn start(binary: &str, args: &[&str]) -> NodeProcess {
        NodeProcess::start_at(binary, "127.0.0.1:0", args)
    }

    /// Starts `binary` listening on `addr` and waits until it logs
    /// [`READY`].
    pub fn start_at(binary: &str, addr: &str, args: &[&str]) -> NodeProcess {
        let mut node = NodeProcess::spawn_at(binary, addr, args);
        node.wait_ready();
        node
    }

    /// Starts `binary` listening on `addr`, waiting only until it listens:
    /// a node of a cluster that is down is not ready until enough of its
    /// peers are up.
    pub fn spawn_at(binary: &str, addr: &str, args: &[&str]) -> NodeProcess {
        let mut child = Command::new(binary)
            .args(["-a", addr])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let (tx, lines) = mpsc::channel();
        let name = addr.to_string();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{name}] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = NodeProcess {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            lines,
            history: Vec::new(),
        };
        let listening = node.wait_for_line("server listening at ");
        let addr = listening.rsplit(' ').next().expect("an address");
        node.addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {listening:?}: {e}"));
        node
    }

    /// Waits until the node has logged a line containing `needle`, at any
    /// time since it started: for events that may come before or after
    /// readiness.
    pub fn has_logged(&mut self, needle: &str) -> String {
        match self.history.iter().find(|l| l.contains(needle)) {
            Some(line) => line.clone(),
            None => self.wait_for_line(needle),
        }
    }

    /// How many lines containing `needle` the node has logged so far
    /// (those it logged up to now, without waiting for more).
    pub fn count_logged(&mut self, needle: &str) -> usize {
        while let Ok(line) = self.lines.try_recv() {
            self.history.push(line);
        }
        self.history.iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until the node logs [`READY`].
    pub fn wait_ready(&mut self) {
        self.wait_for_line(READY);
    }

    /// Waits for a log line containing `needle` that comes after the lines
    /// waited for so far, and returns it.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.history.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => {
                    let status = self.child.try_wait();
                    panic!("no log line with {needle:?} (process status: {status:?})");
                }
            }
        }
    }

    /// A `redis` crate client for this node.
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://{}/", self.addr))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(10)))
            .expect("connect")
    }

    /// Kills the process at once (`kill -9`) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself, up to a deadline.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A data directory, removed when dropped.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// The `-d` argument for a data directory.
pub fn dir_arg(dir: &Path) -> String {
    dir.to_str().expect("utf-8 path").to_string()
}

/// Sends raw bytes and reads until the node closes the connection or
/// `timeout` passes; returns what was read and whether it was closed.
pub fn raw(addr: SocketAddr, request: &[u8], timeout: Duration) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    stream.write_all(request).expect("write");
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        match stream.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

/// Sends raw bytes and reads exactly `len` bytes of reply.
pub fn raw_exact(addr: SocketAddr, request: &[u8], len: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(request).expect("write");
    let mut out = vec![0u8; len];
    stream.read_exact(&mut out).expect("read the whole reply");
    out
}

/// Sends an HTTP request to `addr` and returns the status code and the
/// body; the server must close the connection after its response.
pub fn http(addr: &str, request: &str) -> (u16, String) {
    let (out, closed) = raw(addr.parse().unwrap(), request.as_bytes(), PATIENCE);
    assert!(closed, "the response did not end the connection");
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("a whole response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

/// `GET path` over HTTP/1.1, with an `Authorization` header if given.
pub fn http_get(addr: &str, path: &str, auth: Option<&str>) -> (u16, String) {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n"),
    )
}

/// Encodes a command as a RESP multibulk request.
pub fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

/// Polls `probe` every 20 ms until it returns `Ok`, and returns that value;
/// panics after [`PATIENCE`] with `what` was awaited and the last `Err` it
/// gave, so that a test that times out says what it was waiting for.
pub fn eventually<T>(what: &str, mut probe: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match probe() {
            Ok(value) => return value,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {PATIENCE:?} waiting for {what}; last seen: {last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// The text of an error reply, `CODE detail` as a client shows it
/// (`MOVED 0 127.0.0.1:5000`, `ERR syntax error`); panics on a success.
pub fn error_text<T>(result: redis::RedisResult<T>) -> String {
    let Err(e) = result else {
        panic!("expected an error reply")
    };
    match e.code() {
        Some(code) => format!("{code} {}", e.detail().unwrap_or(""))
            .trim()
            .to_string(),
        None => e.to_string(),
    }
}

/// A command for the `redis` crate from its words.
pub fn command(args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd
}

/// Runs a command on `addr`, following `MOVED` redirects by hand as a
/// cluster-aware client does; retries while the cluster elects a leader or
/// a node is unreachable, until `timeout`.
pub fn query_following(
    addr: &str,
    args: &[&str],
    timeout: Duration,
) -> redis::RedisResult<redis::Value> {
    let deadline = Instant::now() + timeout;
    let mut target = addr.to_string();
    loop {
        let attempt = redis::Client::open(format!("redis://{target}/"))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .and_then(|mut con| {
                con.set_read_timeout(Some(Duration::from_secs(5)))?;
                command(args).query::<redis::Value>(&mut con)
            });
        match attempt {
            Err(e) if e.code() == Some("MOVED") && Instant::now() < deadline => {
                target = e
                    .redirect_node()
                    .map(|(addr, _)| addr.to_string())
                    .unwrap_or(target);
            }
            Err(e)
                if Instant::now() < deadline
                    && (e.code() == Some("CLUSTERDOWN")
                        || e.is_io_error()
                        || e.is_connection_refusal()) =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Whether `test` must be skipped because this machine lacks `missing`:
/// says so on stderr outside CI, and fails the test in CI (`CI` set in the
/// environment), where `.ci/run` installs what tests need and a test that
/// never ran must not pass.
pub fn skip_for_lack_of(test: &str, missing: Option<&str>) -> bool {
    let Some(what) = missing else {
        return false;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{test} needs {what}, and CI must run it (.ci/run installs it)"
    );
    eprintln!("SKIPPED {test}: needs {what}; .ci/run installs it");
    true
}

/// A cluster of nodes of one binary with ids 1..=n, node 1 first and the
/// others joining it, each in its own process on its own loopback port.
pub struct Cluster {
    // Fields drop in order: the processes die before their directory goes.
    /// Node `i`'s process, `None` while it is down.
    pub nodes: Vec<Option<NodeProcess>>,
    /// The data directory of every node (each has its own subdirectory).
    pub dir: tempfile::TempDir,
    /// Node `i`'s address (its id is `i + 1`).
    pub addrs: Vec<String>,
    binary: String,
    extra: Vec<String>,
}

impl Cluster {
    /// Starts `n` nodes of `binary`, each with the `extra` flags. Each
    /// node binds port 0 and reports the port it got: no port is picked
    /// for it and released first, which races with other tests.
    pub fn start(binary: &str, n: usize, extra: &[&str]) -> Cluster {
        let mut cluster = Cluster {
            binary: binary.to_string(),
            dir: data_dir(),
            addrs: Vec::new(),
            nodes: Vec::new(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        for i in 0..n {
            let join = (i > 0).then(|| cluster.addrs[0].clone());
            let mut node = cluster.spawn_at(i, "127.0.0.1:0", join.as_deref());
            node.wait_ready();
            cluster.addrs.push(node.addr.to_string());
            cluster.nodes.push(Some(node));
        }
        cluster
    }

    /// Starts node `i` again at the address it had, and waits until it is
    /// ready.
    pub fn launch(&self, i: usize) -> NodeProcess {
        let mut node = self.spawn(i);
        node.wait_ready();
        node
    }

    /// Starts node `i` again at the address it had, without waiting for it
    /// to be ready.
    pub fn spawn(&self, i: usize) -> NodeProcess {
        self.spawn_at(i, &self.addrs[i], None)
    }

    /// Starts node `i` (id `i + 1`) at `addr`, joining `join` if given.
    fn spawn_at(&self, i: usize, addr: &str, join: Option<&str>) -> NodeProcess {
        let id = (i + 1).to_string();
        let dir = dir_arg(self.dir.path());
        let mut args: Vec<&str> = vec!["-n", &id, "-d", &dir];
        if let Some(join) = join {
            args.extend(["-j", join]);
        }
        args.extend(self.extra.iter().map(String::as_str));
        NodeProcess::spawn_at(&self.binary, addr, &args)
    }

    /// Kills node `i` with `kill -9`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut node) = self.nodes[i].take() {
            node.kill();
        }
    }

    /// Starts node `i` again after [`Cluster::kill`], and waits until it
    /// is ready.
    pub fn restart(&mut self, i: usize) {
        self.nodes[i] = Some(self.launch(i));
    }

    /// Runs a command on node `i` itself.
    pub fn query(&self, i: usize, args: &[&str]) -> redis::RedisResult<redis::Value> {
        let mut con =
            redis::Client::open(format!("redis://{}/", self.addrs[i]))?.get_connection()?;
        command(args).query(&mut con)
    }

    /// Runs a command on node `i` and reads its reply as a string.
    pub fn string(&self, i: usize, args: &[&str]) -> String {
        redis::from_redis_value(self.query(i, args).expect("a reply")).expect("a string")
    }

    /// One value of node `i`'s `RAFT INFO`.
    pub fn raft_info(&self, i: usize, key: &str) -> String {
        let info: std::collections::HashMap<String, String> =
            redis::from_redis_value(self.query(i, &["RAFT", "INFO", key]).expect("a reply"))
                .expect("RAFT INFO pairs");
        info[key].clone()
    }

    /// The index of the node every live node agrees leads.
    pub fn leader(&self) -> usize {
        eventually("a leader that every live node agrees on", || {
            let views: BTreeSet<String> = (0..self.addrs.len())
                .filter(|i| self.nodes[*i].is_some())
                .map(|i| self.string(i, &["RAFT", "LEADER"]))
                .collect();
            let agreed = match views.iter().collect::<Vec<_>>()[..] {
                [leader] => self.addrs.iter().position(|a| a == leader),
                _ => None,
            };
            agreed
                .filter(|i| self.nodes[*i].is_some())
                .ok_or_else(|| format!("the nodes name {views:?}"))
        })
    }

    /// Waits until node `i` answers `args` with `expected`, read as a `T`:
    /// for a node that catches up, with open reads, or a change that
    /// reaches it after a majority.
    pub fn wait_for_reply<T>(&self, i: usize, args: &[&str], expected: &T)
    where
        T: redis::FromRedisValue + PartialEq + std::fmt::Debug,
    {
        eventually(
            &format!("node {i} to answer {args:?} with {expected:?}"),
            || match self.query(i, args).map(redis::from_redis_value::<T>) {
                Ok(Ok(got)) if got == *expected => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
    }

    /// Runs a command through node `i`, following redirects to the leader.
    pub fn via(&self, i: usize, args: &[&str]) -> redis::Value {
        query_following(&self.addrs[i], args, PATIENCE).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// A ticket, asked through node `i`.
    pub fn ticket_via(&self, i: usize) -> i64 {
        redis::from_redis_value(self.via(i, &["TICKET"])).unwrap()
    }
}
