//! Where the nodes live on the network, and the faults the network can
//! carry.
//!
//! Without network faults every node listens on loopback. With them, each
//! node gets its own network namespace joined to a bridge in the host's
//! namespace by a veth pair: the tool's clients, in the host's namespace,
//! reach every node through the bridge, while node-to-node traffic can be
//! cut (iptables rules inside the nodes' namespaces), thinned out (random
//! drops) or slowed (`tc netem` where the kernel has it, a `tbf` rate limit
//! where it does not). Everything is named after the tool's process id and
//! removed when the [`Net`] is dropped; a run killed before it could clean
//! up is swept away by the next one.

use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

/// The port every node listens on inside its own namespace.
const PORT: u16 = 7481;

/// A slow or lossy link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Link {
    /// Each packet between the node and its peers dropped with this
    /// probability.
    Loss(f64),
    /// Delay with jitter (netem), or a low rate limit without netem.
    Slow,
}

/// The nodes' network.
pub enum Net {
    /// Every node on 127.0.0.1, on a port of its own choosing.
    Loopback,
    /// A namespace per node.
    Namespaces(Namespaces),
}

impl Net {
    /// The address node `i` (0-based) is told to listen on.
    pub fn listen_addr(&self, i: usize) -> String {
        match self {
            Net::Loopback => "127.0.0.1:0".into(),
            Net::Namespaces(ns) => format!("{}:{PORT}", ns.ip(i)),
        }
    }

    /// A command that runs `program` as node `i`.
    pub fn command(&self, i: usize, program: &str) -> tokio::process::Command {
        match self {
            Net::Loopback => tokio::process::Command::new(program),
            Net::Namespaces(ns) => {
                let mut c = tokio::process::Command::new("ip");
                c.args(["netns", "exec", &ns.netns(i), program]);
                c
            }
        }
    }

    fn namespaces(&self) -> Result<&Namespaces, String> {
        match self {
            Net::Namespaces(ns) => Ok(ns),
            Net::Loopback => Err("network faults need the nodes in namespaces".into()),
        }
    }

    /// Cuts node-to-node traffic between each pair (both ways).
    pub fn cut(&self, pairs: &[(usize, usize)]) -> Result<(), String> {
        let ns = self.namespaces()?;
        for &(a, b) in pairs {
            for (from, to) in [(a, b), (b, a)] {
                let peer = ns.ip(to);
                ns.iptables(from, &["-A", "OUTPUT", "-d", &peer, "-j", "DROP"])?;
                ns.iptables(from, &["-A", "INPUT", "-s", &peer, "-j", "DROP"])?;
            }
        }
        Ok(())
    }

    /// Makes node `i`'s links worse.
    pub fn degrade(&self, i: usize, link: Link) -> Result<(), String> {
        let ns = self.namespaces()?;
        match link {
            Link::Loss(p) => {
                let p = format!("{p:.2}");
                for peer in (0..ns.nodes).filter(|&j| j != i).map(|j| ns.ip(j)) {
                    for (chain, dir) in [("OUTPUT", "-d"), ("INPUT", "-s")] {
                        ns.iptables(
                            i,
                            &[
                                "-A",
                                chain,
                                dir,
                                &peer,
                                "-m",
                                "statistic",
                                "--mode",
                                "random",
                                "--probability",
                                &p,
                                "-j",
                                "DROP",
                            ],
                        )?;
                    }
                }
                Ok(())
            }
            Link::Slow if ns.netem => ns.tc(i, &["netem", "delay", "60ms", "40ms"]),
            Link::Slow => ns.tc(
                i,
                &[
                    "tbf", "rate", "256kbit", "burst", "16kb", "latency", "400ms",
                ],
            ),
        }
    }

    /// Undoes every cut and degradation.
    pub fn heal(&self) -> Result<(), String> {
        if let Net::Namespaces(ns) = self {
            for i in 0..ns.nodes {
                ns.iptables(i, &["-F"])?;
                // Fails when there is nothing to delete.
                let _ = ns.exec(i, &["tc", "qdisc", "del", "dev", "eth0", "root"]);
            }
        }
        Ok(())
    }

    /// How links are slowed, for the report.
    pub fn slow_kind(&self) -> &'static str {
        match self {
            Net::Namespaces(ns) if ns.netem => "netem delay 60 ms ± 40 ms",
            _ => "tbf 256 kbit/s (this kernel has no netem)",
        }
    }
}

/// One namespace per node, on a bridge of its own.
pub struct Namespaces {
    /// The prefix of every name: `uhc<pid><letter>`.
    run: String,
    /// The first three octets of the /24 the nodes live in.
    subnet: String,
    nodes: usize,
    /// Whether the kernel offers netem.
    netem: bool,
}

impl Namespaces {
    /// Makes the bridge and a namespace per node.
    pub fn create(nodes: usize) -> Result<Namespaces, String> {
        sweep_stale();
        let pid = std::process::id();
        // A letter per run of this process: the kernel frees a deleted
        // namespace's veth a moment later, so names are never reused.
        static RUNS: AtomicU8 = AtomicU8::new(0);
        let letter = char::from(b'a' + RUNS.fetch_add(1, Ordering::Relaxed) % 26);
        let mut ns = Namespaces {
            run: format!("uhc{pid}{letter}"),
            subnet: free_subnet(pid)?,
            nodes: 0,
            netem: false,
        };
        let bridge = ns.bridge();
        run(&["ip", "link", "add", &bridge, "type", "bridge"])?;
        run(&[
            "ip",
            "addr",
            "add",
            &format!("{}.1/24", ns.subnet),
            "dev",
            &bridge,
        ])?;
        run(&["ip", "link", "set", &bridge, "up"])?;
        for i in 0..nodes {
            // Counted first, so that a failure half way cleans this one too.
            ns.nodes = i + 1;
            let (netns, veth) = (ns.netns(i), ns.veth(i));
            run(&["ip", "netns", "add", &netns])?;
            run(&[
                "ip", "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns,
            ])?;
            run(&["ip", "link", "set", &veth, "master", &bridge, "up"])?;

            ns.exec(
                i,
                &[
                    "ip",
                    "addr",
                    "add",
                    &format!("{}/24", ns.ip(i)),
                    "dev",
                    "eth0",
                ],
            )?;
            ns.exec(i, &["ip", "link", "set", "eth0", "up"])?;
            ns.exec(i, &["ip", "link", "set", "lo", "up"])?;
        }
        ns.netem = ns
            .exec(
                0,
                &[
                    "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms",
                ],
            )
            .is_ok();
        if ns.netem {
            ns.exec(0, &["tc", "qdisc", "del", "dev", "lo", "root"])?;
        }
        Ok(ns)
    }

    fn bridge(&self) -> String {
        format!("{}b", self.run)
    }

    fn netns(&self, i: usize) -> String {
        format!("{}n{i}", self.run)
    }

    /// The host's end of node `i`'s link to the bridge.
    fn veth(&self, i: usize) -> String {
        format!("{}v{i}", self.run)
    }

    fn ip(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }

    /// Runs a command inside node `i`'s namespace.
    fn exec(&self, i: usize, args: &[&str]) -> Result<(), String> {
        let netns = self.netns(i);
        let mut all = vec!["ip", "netns", "exec", &netns];
        all.extend_from_slice(args);
        run(&all)
    }

    fn iptables(&self, i: usize, args: &[&str]) -> Result<(), String> {
        self.exec(i, &[&["iptables", "-w"], args].concat())
    }

    fn tc(&self, i: usize, qdisc: &[&str]) -> Result<(), String> {
        self.exec(
            i,
            &[&["tc", "qdisc", "replace", "dev", "eth0", "root"], qdisc].concat(),
        )
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for i in 0..self.nodes {
            // The link first: deleting the namespace would free it too, but
            // in the kernel's own time, seconds later on a busy machine.
            let _ = run(&["ip", "link", "del", &self.veth(i)]);
            let _ = run(&["ip", "netns", "del", &self.netns(i)]);
        }
        let _ = run(&["ip", "link", "del", &self.bridge()]);
    }
}

/// Runs a command to its end; its stderr becomes the error.
fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args[0]))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A 10.x.y /24 derived from the process id that no interface uses yet
/// (an earlier run's, not yet freed, included).
fn free_subnet(pid: u32) -> Result<String, String> {
    let out = Command::new("ip")
        .args(["-o", "-4", "addr"])
        .output()
        .map_err(|e| format!("ip: {e} (the network faults need iproute2)"))?;
    let used = String::from_utf8_lossy(&out.stdout).into_owned();
    (0..256u32)
        .map(|k| {
            let n = pid.wrapping_add(k * 7919);
            format!("10.{}.{}", 128 + (n >> 8) % 120, n & 0xff)
        })
        .find(|s| !used.contains(&format!(" {s}.")))
        .ok_or_else(|| "no free 10.x.y.0/24 for the nodes' network".into())
}

/// Removes the namespaces and bridges of runs whose process is gone (a
/// run killed with SIGKILL cannot clean up after itself).
fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    let dead = |name: &str| -> bool {
        let digits: String = name
            .strip_prefix("uhc")
            .unwrap_or("")
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        match digits.parse::<u32>() {
            Ok(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            Err(_) => false,
        }
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if name.starts_with("uhc") && dead(name) {
            let _ = run(&["ip", "netns", "del", name]);
        }
    }
    if let Ok(out) = Command::new("ip")
        .args(["-o", "link", "show", "type", "bridge"])
        .output()
    {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split(": ").nth(1).unwrap_or("").trim();
            if name.starts_with("uhc") && name.ends_with('b') && dead(name) {
                let _ = run(&["ip", "link", "del", name]);
            }
        }
    }
}
