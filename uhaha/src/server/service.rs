//! Custom services on the node's port: a [`Service`] claims a connection by
//! its first bytes (an HTTP request line, say), before the Redis protocol
//! would. Raft peers (first byte NUL) and TLS are told apart before any
//! service is asked.

use crate::client::{Client, ClientError, LocalDialer};
use crate::server::conn::Conn;
use crate::tls::{Stream, Tls};
use bytes::BytesMut;
use std::future::Future;
use std::pin::Pin;
use tokio::io::AsyncReadExt;

/// Most bytes a connection may send before every service has decided.
pub const MAX_SNIFF: usize = 4096;

/// A service's verdict on the first bytes of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sniff {
    /// The connection is for this service.
    Mine,
    /// It is not.
    NotMine,
    /// More bytes are needed to tell.
    NeedMore,
}

/// A protocol served on the node's port besides Redis.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use tokio::io::AsyncWriteExt;
/// use uhaha::{Service, ServiceConn, Sniff};
///
/// /// Answers `hi\n` with `hello\n`.
/// struct Hello;
///
/// impl Service for Hello {
///     fn sniff(&self, first: &[u8]) -> Sniff {
///         match first.len() {
///             0..3 if b"hi\n".starts_with(first) => Sniff::NeedMore,
///             _ if first.starts_with(b"hi\n") => Sniff::Mine,
///             _ => Sniff::NotMine,
///         }
///     }
///
///     fn serve(&self, mut conn: ServiceConn) -> Pin<Box<dyn Future<Output = ()> + Send>> {
///         Box::pin(async move {
///             let _ = conn.stream.write_all(b"hello\n").await;
///         })
///     }
/// }
/// ```
pub trait Service: Send + Sync + 'static {
    /// Looks at the bytes received so far (at least one).
    fn sniff(&self, first: &[u8]) -> Sniff;

    /// Serves a connection this service claimed.
    fn serve(&self, conn: ServiceConn) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// A connection handed to a [`Service`].
pub struct ServiceConn {
    /// The bytes already read, which the sniffers saw; the stream goes on
    /// after them.
    pub received: BytesMut,
    /// The connection (TLS already removed).
    pub stream: Box<dyn Stream>,
    /// The client as hooks and handlers see it.
    pub conn: Conn,
    pub(crate) node: LocalNode,
}

impl ServiceConn {
    /// A client that runs commands on this node through the same dispatch
    /// as Redis clients, without a socket: the node's auth applies (pass
    /// the secret the request carried), writes go through Raft and a
    /// follower sends them on to the leader.
    pub async fn client(&self, auth: Option<&str>) -> Result<Client, ClientError> {
        self.node.client(auth).await
    }

    /// Reads an HTTP request head: everything up to the blank line that
    /// ends it, which stays in [`ServiceConn::received`] with whatever came
    /// after it. `None` when the connection ends first, the head is not
    /// UTF-8, or it passes `max` bytes.
    ///
    /// ```
    /// # async fn serve(mut conn: uhaha::ServiceConn) {
    /// if let Some(head) = conn.read_http_head(8192).await {
    ///     let request_line = head.lines().next().unwrap_or_default();
    ///     println!("{request_line}");
    /// }
    /// # }
    /// ```
    pub async fn read_http_head(&mut self, max: usize) -> Option<String> {
        loop {
            if let Some(end) = self.received.windows(4).position(|w| w == b"\r\n\r\n") {
                return String::from_utf8(self.received[..end].to_vec()).ok();
            }
            if self.received.len() > max {
                return None;
            }
            self.received.reserve(1024);
            match self.stream.read_buf(&mut self.received).await {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}

/// How to reach a node from inside its process.
#[derive(Clone)]
pub(crate) struct LocalNode {
    pub addr: String,
    pub dialer: LocalDialer,
    /// The node's TLS, for redirects to other members.
    pub tls: Option<Tls>,
}

impl LocalNode {
    pub async fn client(&self, auth: Option<&str>) -> Result<Client, ClientError> {
        let mut builder = Client::builder()
            .local(self.addr.clone(), self.dialer.clone())
            .tls(self.tls.as_ref());
        if let Some(secret) = auth {
            builder = builder.auth(secret);
        }
        builder.connect(&self.addr).await
    }
}
