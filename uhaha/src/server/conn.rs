//! [`Conn`]: what handlers that run on the receiving node (intermediate and
//! catch-all commands, custom services) know about the connection a command
//! came from.

use crate::pubsub::{Hub, Subscriber};
use std::any::Any;
use std::net::SocketAddr;
use std::sync::Arc;

/// Per-connection data attached by a connection hook, shared and typed at
/// the point of use.
pub type ConnData = Arc<dyn Any + Send + Sync>;

/// A client connection as handlers see it.
///
/// ```
/// use uhaha::Conn;
///
/// fn greet(conn: &Conn) -> String {
///     match conn.data::<String>() {
///         Some(user) => format!("hello {user}, client {}", conn.id()),
///         None => format!("hello client {} from {}", conn.id(), conn.addr()),
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Conn {
    id: u64,
    addr: SocketAddr,
    data: Option<ConnData>,
    pubsub: Arc<Hub>,
}

impl Conn {
    pub(crate) fn new(id: u64, addr: SocketAddr, pubsub: Arc<Hub>) -> Conn {
        Conn {
            id,
            addr,
            data: None,
            pubsub,
        }
    }

    /// The connection's id, unique in this process (`CLIENT ID`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The client's address; `0.0.0.0:0` for a node's local client, which
    /// has no socket.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The data the connection hook attached, if it is a `T`.
    pub fn data<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.data.as_deref()?.downcast_ref()
    }

    /// A subscriber to the messages that writes publish on this node (see
    /// [`crate::pubsub`]), with no subscriptions yet. A connection that
    /// waits for messages is hijacked ([`crate::Intermediate::hijack`]).
    pub fn subscriber(&self) -> Subscriber {
        Subscriber::new(self.pubsub.clone())
    }

    pub(crate) fn set_data(&mut self, data: Option<ConnData>) {
        self.data = data;
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("id", &self.id)
            .field("addr", &self.addr)
            .field("data", &self.data.is_some())
            .finish()
    }
}
