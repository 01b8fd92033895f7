//! Hijacked connections: an `#[intermediate]` command that returns
//! [`Intermediate::hijack`](crate::Intermediate::hijack) takes its
//! connection over once the replies before it are written, for streaming
//! replies, blocking commands and pub/sub (uhaha's `Hijack`).
//!
//! The hijacker runs in the connection's own task, so the connection keeps
//! its place among the node's clients (`CLIENT LIST`, the connection limit,
//! the close hook) until the hijacker is done; it may then hand the
//! connection back to the node, which serves it as before, or let it close.

use crate::command::{Protocol, Reply};
use crate::server::conn::Conn;
use crate::server::resp::RequestParser;
use crate::tls::Stream;
use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use std::fmt;
use std::future::Future;
use std::io;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What runs a hijacked connection; see
/// [`Intermediate::hijack`](crate::Intermediate::hijack).
pub struct Hijack(Box<dyn FnOnce(Hijacked) -> BoxFuture<'static, Option<Hijacked>> + Send>);

impl Hijack {
    pub(crate) fn new<F, Fut>(run: F) -> Hijack
    where
        F: FnOnce(Hijacked) -> Fut + Send + 'static,
        Fut: Future<Output = Option<Hijacked>> + Send + 'static,
    {
        Hijack(Box::new(move |conn| Box::pin(run(conn))))
    }

    /// Runs the hijacker on `conn`; the connection if it hands it back.
    pub(crate) async fn run(self, conn: Hijacked) -> Option<Hijacked> {
        (self.0)(conn).await
    }
}

impl fmt::Debug for Hijack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hijack(..)")
    }
}

/// Two hijackers are never equal: they are code, not values.
impl PartialEq for Hijack {
    fn eq(&self, _: &Hijack) -> bool {
        false
    }
}

/// A connection taken over by a hijacker: it reads the client's commands
/// and writes replies itself, in the protocol the client chose.
///
/// Commands the client pipelined behind the hijacking command are the first
/// that [`Hijacked::read_command`] returns. Replies are buffered by
/// [`Hijacked::write`] and sent by [`Hijacked::flush`].
pub struct Hijacked {
    stream: Box<dyn Stream>,
    received: BytesMut,
    parser: RequestParser,
    protocol: Protocol,
    out: BytesMut,
    conn: Conn,
}

impl Hijacked {
    pub(crate) fn new(
        stream: Box<dyn Stream>,
        received: BytesMut,
        parser: RequestParser,
        protocol: Protocol,
        conn: Conn,
    ) -> Hijacked {
        Hijacked {
            stream,
            received,
            parser,
            protocol,
            out: BytesMut::new(),
            conn,
        }
    }

    /// What the node handed over, when the hijacker hands it back: the
    /// stream, the bytes read and not yet parsed, and the parser.
    pub(crate) fn into_parts(self) -> (Box<dyn Stream>, BytesMut, RequestParser) {
        (self.stream, self.received, self.parser)
    }

    /// The connection, as commands see it.
    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    /// The protocol the client speaks: replies are written in it, and a
    /// RESP3 client tells [`Reply::Push`] messages from replies.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The client's next command, its name first; `None` when the client
    /// closed the connection. A request that breaks the protocol (or the
    /// node's size limits) is answered with its error, and is an error of
    /// kind `InvalidData` here: the connection must close.
    ///
    /// Cancel safe: bytes read before a cancellation stay for the next
    /// call, so it may wait in `tokio::select!` beside other work.
    pub async fn read_command(&mut self) -> io::Result<Option<Vec<Bytes>>> {
        loop {
            match self.parser.next(&mut self.received) {
                Ok(Some(cmd)) => return Ok(Some(cmd)),
                Ok(None) => {}
                Err(e) => {
                    self.write(&Reply::Error(e.to_string()));
                    self.flush().await?;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e.0));
                }
            }
            self.received.reserve(16 << 10);
            if self.stream.read_buf(&mut self.received).await? == 0 {
                return Ok(None);
            }
        }
    }

    /// Buffers `reply` for the client, in its protocol.
    pub fn write(&mut self, reply: &Reply) {
        reply.encode(self.protocol, &mut self.out);
    }

    /// Buffers bytes already encoded as RESP (uhaha's `WriteRaw`).
    pub fn write_raw(&mut self, resp: &[u8]) {
        self.out.extend_from_slice(resp);
    }

    /// Sends what was buffered.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }

    /// Writes `reply` and sends it with whatever was buffered before.
    pub async fn send(&mut self, reply: &Reply) -> io::Result<()> {
        self.write(reply);
        self.flush().await
    }
}

impl fmt::Debug for Hijacked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hijacked")
            .field("conn", &self.conn)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn hijacked(stream: tokio::io::DuplexStream, received: &str) -> Hijacked {
        Hijacked::new(
            Box::new(stream),
            BytesMut::from(received),
            RequestParser::new(Default::default()),
            Protocol::Resp3,
            crate::__private::test_conn(),
        )
    }

    #[tokio::test]
    async fn pipelined_commands_come_first_then_the_socket_s() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut conn = hijacked(ours, "PING a\r\n");
        theirs
            .write_all(b"*2\r\n$4\r\nPING\r\n$1\r\nb\r\n")
            .await
            .unwrap();
        assert_eq!(conn.read_command().await.unwrap().unwrap()[1], "a");
        assert_eq!(conn.read_command().await.unwrap().unwrap()[1], "b");
        conn.send(&Reply::Push(vec![Reply::bulk("x")]))
            .await
            .unwrap();
        let mut got = [0u8; 11];
        theirs.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b">1\r\n$1\r\nx\r\n");
        drop(theirs);
        assert!(conn.read_command().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_protocol_error_is_answered_and_ends_the_reading() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut conn = hijacked(ours, "*1\r\n$x\r\n");
        let error = conn.read_command().await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        let mut got = vec![0u8; 64];
        let n = theirs.read(&mut got).await.unwrap();
        assert!(got[..n].starts_with(b"-ERR Protocol error"), "{got:?}");
    }
}
