//! What a process costs, from Linux's `/proc`: CPU time, resident and peak
//! memory, bytes written to disk, and which process listens on an address.
//!
//! The process is found by its listening socket rather than by its child
//! handle because the test harness that starts the nodes keeps its
//! `Child` private, and because the same lookup finds a `redis-server`
//! that the tool did not start, so both sides of a comparison report the
//! same figures.

use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Clock ticks per second of `/proc/<pid>/stat`'s times: `USER_HZ`, which
/// the kernel fixes at 100 in its user-space ABI on every architecture
/// Linux supports today (whatever its internal `HZ`), so there is no need
/// for `sysconf(_SC_CLK_TCK)` and its `unsafe`.
const USER_HZ: f64 = 100.0;

/// CPU time (user + system) a process has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> io::Result<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat)
        .map(|ticks| ticks as f64 / USER_HZ)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc stat"))
}

/// `utime + stime` from a `/proc/<pid>/stat` line. The command name (field
/// 2) is in parentheses and may hold spaces or parentheses itself, so the
/// fields are counted from the last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// The bytes a process has caused to be written to disk so far
/// (`write_bytes` of `/proc/<pid>/io`): each page it dirtied, counted when
/// it dirtied it, whatever the size of the write. A small append fsynced
/// on its own costs a whole page.
pub fn disk_write_bytes(pid: u32) -> io::Result<u64> {
    let io = fs::read_to_string(format!("/proc/{pid}/io"))?;
    parse_write_bytes(&io)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unreadable /proc io"))
}

fn parse_write_bytes(io: &str) -> Option<u64> {
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Resident memory now and at its peak, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`.
    pub rss_kib: u64,
    /// `VmHWM`: the most the process has ever had resident.
    pub peak_rss_kib: u64,
}

/// A process's [`Memory`] from `/proc/<pid>/status`.
pub fn memory(pid: u32) -> io::Result<Memory> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(parse_memory(&status))
}

fn parse_memory(status: &str) -> Memory {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        peak_rss_kib: field("VmHWM:"),
    }
}

/// The process that has a TCP socket listening on `addr` (or on the
/// wildcard address of its port), if this user may see it.
pub fn pid_listening_on(addr: SocketAddr) -> Option<u32> {
    let table = match addr.ip() {
        IpAddr::V4(_) => "/proc/net/tcp",
        IpAddr::V6(_) => "/proc/net/tcp6",
    };
    let inode = listening_inode(&fs::read_to_string(table).ok()?, addr)?;
    let needle = format!("socket:[{inode}]");
    for entry in fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if fs::read_link(fd.path()).is_ok_and(|target| target.as_os_str() == needle.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

/// The inode of the listening socket for `addr` in a `/proc/net/tcp{,6}`
/// table.
fn listening_inode(table: &str, addr: SocketAddr) -> Option<u64> {
    const LISTEN: &str = "0A";
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (local, state, inode) = (f.get(1)?, f.get(3)?, f.get(9)?);
        let (ip, port) = local.split_once(':')?;
        let port = u16::from_str_radix(port, 16).ok()?;
        let ip = parse_proc_ip(ip)?;
        let matches =
            *state == LISTEN && port == addr.port() && (ip == addr.ip() || ip.is_unspecified());
        matches.then(|| inode.parse().ok()).flatten()
    })
}

/// An address as `/proc/net/tcp{,6}` prints it: the bytes of each 32-bit
/// word in the machine's own order, in hex.
fn parse_proc_ip(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| {
        hex.get(i * 8..i * 8 + 8)
            .and_then(|w| u32::from_str_radix(w, 16).ok())
            .map(u32::to_ne_bytes)
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_bytes_are_read_from_proc_io() {
        let io =
            "rchar: 10\nwchar: 20\nread_bytes: 0\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(parse_write_bytes(io), Some(8192));
        assert_eq!(parse_write_bytes("rchar: 1\n"), None);
        assert!(disk_write_bytes(std::process::id()).is_ok());
    }

    #[test]
    fn cpu_ticks_survive_odd_command_names() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    1234 56 0 0 20 0 4 0 100 1000 200 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(1234 + 56));
        assert_eq!(parse_cpu_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn own_process_figures_are_readable() {
        let pid = std::process::id();
        assert!(cpu_seconds(pid).unwrap() >= 0.0);
        let mem = memory(pid).unwrap();
        assert!(mem.rss_kib > 0 && mem.peak_rss_kib >= mem.rss_kib);
    }

    #[test]
    fn memory_fields() {
        let status = "Name:\tticket\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(
            parse_memory(status),
            Memory {
                rss_kib: 10240,
                peak_rss_kib: 20480
            }
        );
    }

    #[test]
    fn proc_addresses() {
        let local: IpAddr = Ipv4Addr::LOCALHOST.into();
        let hex = format!("{:08X}", u32::from_ne_bytes([127, 0, 0, 1]));
        assert_eq!(parse_proc_ip(&hex), Some(local));
        let v6 = Ipv6Addr::LOCALHOST;
        let hex: String = v6
            .octets()
            .chunks(4)
            .map(|w| format!("{:08X}", u32::from_ne_bytes(w.try_into().unwrap())))
            .collect();
        assert_eq!(parse_proc_ip(&hex), Some(IpAddr::V6(v6)));
        if cfg!(target_endian = "little") {
            assert_eq!(parse_proc_ip("0100007F"), Some(local));
        }
    }

    #[test]
    fn finds_its_own_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        assert_eq!(pid_listening_on(addr), Some(std::process::id()));
        drop(listener);
        assert_eq!(pid_listening_on(addr), None);
    }
}
