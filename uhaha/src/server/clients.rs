//! The registry of a node's live client connections, for `CLIENT LIST`,
//! `CLIENT INFO` and the client figures of `INFO`.
//!
//! It stays off the hot path: a connection registers once, publishes its
//! activity once per batch of pipelined commands (one uncontended lock),
//! and the node-wide counters are atomics bumped once per batch too.
//! Everything that changes rarely (a name, the library's name, the
//! protocol) is written when the client changes it.

use crate::command::Protocol;
use bytes::Bytes;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Every live client connection of a node, and the node-wide counters.
pub struct Clients {
    live: Mutex<BTreeMap<u64, Arc<Client>>>,
    /// When the node started serving: the base of `uptime_in_seconds`.
    pub started: Instant,
    /// The address the node listens on.
    pub local: SocketAddr,
    /// Connections accepted since start.
    pub connections: AtomicU64,
    /// Commands received since start.
    pub commands: AtomicU64,
    /// Bytes read from and written to clients since start.
    pub input_bytes: AtomicU64,
    pub output_bytes: AtomicU64,
}

/// One connection as `CLIENT LIST` shows it.
pub struct Client {
    pub id: u64,
    /// The client's address.
    pub addr: SocketAddr,
    /// The node's address the client connected to.
    pub laddr: SocketAddr,
    connected: Instant,
    state: Mutex<ClientState>,
}

/// What the client set or did last. Locked by its own connection when the
/// client changes a setting and once per batch, and by `CLIENT LIST`.
#[derive(Clone)]
struct ClientState {
    name: Option<Bytes>,
    lib_name: Option<Bytes>,
    lib_ver: Option<Bytes>,
    protocol: Protocol,
    last_command: &'static str,
    last_active: Instant,
}

/// A connection's place in the registry; leaving it (drop) unregisters it.
pub struct Registration {
    clients: Arc<Clients>,
    client: Arc<Client>,
}

impl Clients {
    /// An empty registry for a node listening on `local`.
    pub fn new(local: SocketAddr) -> Clients {
        Clients {
            live: Mutex::new(BTreeMap::new()),
            started: Instant::now(),
            local,
            connections: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            input_bytes: AtomicU64::new(0),
            output_bytes: AtomicU64::new(0),
        }
    }

    /// Registers a new connection with id `id` from `addr` to `laddr`.
    pub fn register(
        self: &Arc<Self>,
        id: u64,
        addr: SocketAddr,
        laddr: SocketAddr,
    ) -> Registration {
        let now = Instant::now();
        let client = Arc::new(Client {
            id,
            addr,
            laddr,
            connected: now,
            state: Mutex::new(ClientState {
                name: None,
                lib_name: None,
                lib_ver: None,
                protocol: Protocol::Resp2,
                last_command: "NULL",
                last_active: now,
            }),
        });
        self.connections.fetch_add(1, Ordering::Relaxed);
        self.live().insert(id, client.clone());
        Registration {
            clients: self.clone(),
            client,
        }
    }

    fn live(&self) -> MutexGuard<'_, BTreeMap<u64, Arc<Client>>> {
        self.live.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many clients are connected.
    pub fn count(&self) -> usize {
        self.live().len()
    }

    /// The `CLIENT LIST` text of the connections whose ids pass `keep`, in
    /// id order.
    pub fn list(&self, keep: impl Fn(u64) -> bool) -> String {
        let clients: Vec<Arc<Client>> = self
            .live()
            .values()
            .filter(|c| keep(c.id))
            .cloned()
            .collect();
        let mut out = String::new();
        for client in clients {
            client.describe(&mut out);
        }
        out
    }
}

impl Client {
    fn state(&self) -> MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends this client's `CLIENT LIST` line, in Redis 7.2's field
    /// order. Fields that do not apply to uhaha (memory and buffer sizes,
    /// file descriptors) are left out rather than made up.
    fn describe(&self, out: &mut String) {
        let state = self.state().clone();
        let text = |v: &Option<Bytes>| {
            v.as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned()
        };
        let resp = match state.protocol {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        };
        let _ = writeln!(
            out,
            "id={} addr={} laddr={} name={} age={} idle={} flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 cmd={} user=default redir=-1 resp={resp} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            text(&state.name),
            self.connected.elapsed().as_secs(),
            state.last_active.elapsed().as_secs(),
            state.last_command.to_ascii_lowercase(),
            text(&state.lib_name),
            text(&state.lib_ver),
        );
    }
}

impl Registration {
    /// This connection's id.
    pub fn id(&self) -> u64 {
        self.client.id
    }

    /// The client's address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.client.addr
    }

    /// The registry this connection is in.
    pub fn clients(&self) -> &Arc<Clients> {
        &self.clients
    }

    /// This connection's `CLIENT INFO` line.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        self.client.describe(&mut out);
        out
    }

    /// Records a batch of `commands` commands, the last of them named
    /// `last`, and `bytes` bytes read.
    pub fn batch(&self, commands: u64, last: &'static str, bytes: u64) {
        self.clients.commands.fetch_add(commands, Ordering::Relaxed);
        self.clients.input_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.touch(last);
    }

    /// Records that the client is running command `last` now.
    pub fn touch(&self, last: &'static str) {
        let mut state = self.client.state();
        state.last_command = last;
        state.last_active = Instant::now();
    }

    /// Records `bytes` bytes of replies written.
    pub fn wrote(&self, bytes: u64) {
        self.clients
            .output_bytes
            .fetch_add(bytes, Ordering::Relaxed);
    }

    /// The name from `CLIENT SETNAME` or `HELLO ... SETNAME`.
    pub fn name(&self) -> Option<Bytes> {
        self.client.state().name.clone()
    }

    pub fn set_name(&self, name: Option<Bytes>) {
        self.client.state().name = name;
    }

    /// Records a `CLIENT SETINFO LIB-NAME` (`lib_ver` false) or `LIB-VER`.
    pub fn set_lib(&self, lib_ver: bool, value: Bytes) {
        let mut state = self.client.state();
        *if lib_ver {
            &mut state.lib_ver
        } else {
            &mut state.lib_name
        } = Some(value);
    }

    pub fn set_protocol(&self, protocol: Protocol) {
        self.client.state().protocol = protocol;
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.clients.live().remove(&self.client.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn connections_appear_until_they_leave() {
        let clients = Arc::new(Clients::new(addr(7000)));
        let first = clients.register(1, addr(5001), addr(7000));
        let second = clients.register(2, addr(5002), addr(7000));
        assert_eq!(clients.count(), 2);
        first.set_name(Some(Bytes::from("worker")));
        first.set_lib(false, Bytes::from("redis-py"));
        first.set_protocol(Protocol::Resp3);
        first.batch(3, "GET", 40);
        let list = clients.list(|_| true);
        let lines: Vec<&str> = list.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].starts_with("id=1 addr=127.0.0.1:5001 laddr=127.0.0.1:7000 name=worker age=0 idle=0 flags=N db=0 "),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains(" cmd=get ")
                && lines[0].ends_with(" resp=3 lib-name=redis-py lib-ver=")
        );
        assert!(lines[1].contains(" name= ") && lines[1].contains(" cmd=null "));
        assert_eq!(clients.list(|id| id == 2).lines().count(), 1);
        assert_eq!(clients.commands.load(Ordering::Relaxed), 3);
        drop(second);
        assert_eq!(clients.count(), 1);
        assert_eq!(clients.connections.load(Ordering::Relaxed), 2);
        assert_eq!(
            first.describe(),
            list.lines().next().unwrap().to_string() + "\n"
        );
    }
}
