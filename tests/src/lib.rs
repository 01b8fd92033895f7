//! Helpers for black-box tests: start real node processes on ephemeral
//! loopback ports, wait for their readiness line, talk to them with the
//! `redis` crate or raw bytes, and clean up whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The line a node logs when it serves commands.
pub const READY: &str = "logs loaded: ready for commands";
/// How long a node may take to become ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running node process, killed when dropped.
pub struct NodeProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
    lines: mpsc::Receiver<String>,
}

impl NodeProcess {
    /// Starts `binary` with `args` plus `-a 127.0.0.1:0` (an ephemeral
    /// port) and waits until it logs [`READY`].
    pub fn start(binary: &str, args: &[&str]) -> NodeProcess {
        let mut child = Command::new(binary)
            .args(["-a", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        let (tx, lines) = mpsc::channel();
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[node] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut node = NodeProcess {
            child,
            addr: "0.0.0.0:0".parse().unwrap(),
            lines,
        };
        let listening = node.wait_for_line("server listening at ");
        let addr = listening.rsplit(' ').next().expect("an address");
        node.addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("bad address in {listening:?}: {e}"));
        node.wait_for_line(READY);
        node
    }

    /// Waits for a log line containing `needle` and returns it.
    pub fn wait_for_line(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
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

/// Encodes a command as a RESP multibulk request.
pub fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}
