//! The system under test: a cluster of example nodes that the tool starts
//! and stops, or a RESP server that is already up.
//!
//! Starting, joining and killing nodes is the black-box test harness's job
//! (`uhaha_tests::Cluster`): the benchmark runs nodes exactly as the tests
//! do. The harness panics when a node does not come up; here that panic is
//! turned into an error (its message is already on stderr), so that a
//! failed start ends the tool with a clean message and every node that did
//! start is killed.

use crate::cli::{ClusterSpec, TargetKind, TargetSpec};
use crate::procstat;
use std::net::{SocketAddr, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use uhaha_tests::Cluster;

/// A process that serves the target: a node, or the server at an address.
#[derive(Debug, Clone)]
pub struct ServerProcess {
    /// `node <id>` or `server`.
    pub name: String,
    pub addr: String,
    /// `None` when no process of this user listens on the address (a remote
    /// server, or another user's).
    pub pid: Option<u32>,
    /// Whether the workload goes to it.
    pub leader: bool,
}

/// A running target, stopped (nodes killed, data removed) when dropped.
pub struct System {
    /// Where the workload goes: a cluster's leader, or the address.
    pub addr: String,
    pub processes: Vec<ServerProcess>,
    cluster: Option<Cluster>,
}

impl System {
    /// The cluster's data directory; `None` for an address.
    pub fn data_dir(&self) -> Option<&Path> {
        self.cluster.as_ref().map(|c| c.dir.path())
    }
}

impl Drop for System {
    /// Kills the nodes before the harness removes their directory, so that
    /// no node writes into it while it is being removed.
    fn drop(&mut self) {
        if let Some(cluster) = &mut self.cluster {
            for i in 0..cluster.nodes.len() {
                cluster.kill(i);
            }
        }
    }
}

/// Starts (or finds) the target of `spec`.
pub fn start(spec: &TargetSpec) -> Result<System, String> {
    match &spec.kind {
        TargetKind::Addr(addr) => {
            let pid = resolve(addr).and_then(procstat::pid_listening_on);
            Ok(System {
                addr: addr.clone(),
                processes: vec![ServerProcess {
                    name: "server".into(),
                    addr: addr.clone(),
                    pid,
                    leader: true,
                }],
                cluster: None,
            })
        }
        TargetKind::Cluster(c) => start_cluster(c),
    }
}

fn start_cluster(spec: &ClusterSpec) -> Result<System, String> {
    let bin = binary(spec)?;
    let bin = bin.to_str().ok_or("the binary's path is not UTF-8")?;
    let flags = spec.node_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let cluster = harness(|| Cluster::start(bin, spec.nodes.into(), &flags))
        .map_err(|e| format!("the {} cluster did not start: {e}", spec.example))?;
    let leader = harness(|| cluster.leader())
        .map_err(|e| format!("the {} cluster has no leader: {e}", spec.example))?;
    let processes = cluster
        .addrs
        .iter()
        .enumerate()
        .map(|(i, addr)| ServerProcess {
            name: format!("node {}", i + 1),
            addr: addr.clone(),
            pid: resolve(addr).and_then(procstat::pid_listening_on),
            leader: i == leader,
        })
        .collect();
    Ok(System {
        addr: cluster.addrs[leader].clone(),
        processes,
        cluster: Some(cluster),
    })
}

/// Runs a harness call, turning its panic into an error.
fn harness<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "see the message above".into())
    })
}

fn resolve(addr: &str) -> Option<SocketAddr> {
    addr.to_socket_addrs().ok()?.next()
}

/// The node binary: `bin=`/`--bin`, or the example's release build.
pub fn binary(spec: &ClusterSpec) -> Result<PathBuf, String> {
    if let Some(bin) = &spec.bin {
        return if bin.is_file() {
            Ok(bin.clone())
        } else {
            Err(format!("the node binary {} does not exist", bin.display()))
        };
    }
    let dirs = release_dirs();
    dirs.iter()
        .map(|d| d.join(&spec.example))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "no release build of {name} (looked in {dirs:?}): build it with \
                 `cargo build --release -p {name}`, or pass --bin PATH",
                name = spec.example
            )
        })
}

/// Where cargo puts release binaries: `$CARGO_TARGET_DIR/release`, the
/// `release` directory beside this tool's own build directory (the tool is
/// normally run as `target/release/uhaha-bench`), and `./target/release`.
fn release_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        dirs.push(PathBuf::from(target).join("release"));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        if let Some(target) = exe_dir.parent() {
            if exe_dir.ends_with("release") || exe_dir.ends_with("debug") {
                dirs.push(target.join("release"));
            }
        }
    }
    dirs.push(PathBuf::from("target/release"));
    dirs.dedup();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(example: &str, bin: Option<&str>) -> ClusterSpec {
        ClusterSpec {
            example: example.into(),
            bin: bin.map(PathBuf::from),
            nodes: 1,
            nosync: false,
            openreads: false,
            node_args: Vec::new(),
        }
    }

    #[test]
    fn a_missing_release_build_names_the_cargo_command() {
        let err = binary(&spec("no-such-example", None)).unwrap_err();
        assert!(
            err.contains("cargo build --release -p no-such-example"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_bin_is_named() {
        let err = binary(&spec("ticket", Some("/nonexistent/ticket"))).unwrap_err();
        assert!(err.contains("/nonexistent/ticket"), "{err}");
    }

    #[test]
    fn an_address_needs_no_process_of_ours() {
        let system = start(&"addr:192.0.2.1:6379".parse().unwrap()).unwrap();
        assert_eq!(system.addr, "192.0.2.1:6379");
        assert_eq!(system.processes.len(), 1);
        assert_eq!(system.processes[0].pid, None);
        assert!(system.data_dir().is_none());
    }
}
