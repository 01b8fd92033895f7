//! The listener: accepts connections on the node's one port and serves each
//! in its own task, so that a slow or silent client never holds up another.
//! A connection is told apart by its first bytes: TLS, a Raft peer, a
//! registered [`Service`](crate::Service), or else a Redis client.

use super::Server;
use crate::command::{Commands, Reply};
use crate::metrics::Rejected;
use crate::raft::{check_handshake, serve_peer, MAGIC};
use crate::server::conn::Conn;
use crate::server::connection::serve_client;
use crate::server::service::{ServiceConn, Sniff, MAX_SNIFF};
use crate::server::session::Session;
use crate::tls::{self, Stream, Tls};
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

/// Most connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 10_000;

/// Accepts connections until the node stops.
pub async fn run<M: Commands>(listener: TcpListener, shared: Arc<Server<M>>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = slots.clone().acquire_owned().await.expect("never closed");
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, usually: back off instead of spinning.
                tracing::warn!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let serving = shared.clone();
        shared.tasks.spawn(async move {
            serve_connection(&serving, stream, addr).await;
            drop(permit);
        });
    }
}

/// Serves one accepted connection: TLS first when the node uses it, then a
/// Raft peer or a Redis client, told apart by the first byte. Everything
/// before the first byte of the first request (the TLS handshake included)
/// must happen within the handshake deadline, so a silent or stalled
/// connection is closed; a peer must also prove the cluster's secret.
async fn serve_connection<M: Commands>(
    shared: &Arc<Server<M>>,
    mut stream: TcpStream,
    addr: SocketAddr,
) {
    let deadline = shared.settings.handshake_timeout;
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(deadline, stream.peek(&mut first)).await;
    let Ok(Ok(1)) = peeked else {
        tracing::debug!("closed a connection from {addr} that sent nothing");
        return;
    };
    let tls_hello = first[0] == tls::HANDSHAKE_BYTE;
    match (&shared.tls, tls_hello) {
        (Some(tls), true) => match tokio::time::timeout(deadline, tls.accept(stream)).await {
            Ok(Ok(stream)) => {
                let certified = Tls::has_client_certificate(&stream);
                serve_protocol(shared, Box::new(stream), addr, certified).await
            }
            Ok(Err(e)) => {
                shared.metrics.rejected(Rejected::Tls);
                tracing::warn!("TLS handshake with {addr} failed: {e}")
            }
            Err(_) => {
                shared.metrics.rejected(Rejected::Tls);
                tracing::warn!("TLS handshake with {addr} timed out")
            }
        },
        (Some(_), false) => {
            shared.metrics.rejected(Rejected::Tls);
            tracing::warn!("refused a plain-text connection from {addr}: this node requires TLS");
            refuse(&mut stream, b"-ERR this node requires TLS\r\n").await;
        }
        (None, true) => {
            shared.metrics.rejected(Rejected::Tls);
            tracing::warn!("refused a TLS connection from {addr}: this node has no --tls-cert")
        }
        (None, false) => serve_protocol(shared, Box::new(stream), addr, true).await,
    }
}

/// Tells a Raft peer, a service and a Redis client apart by the first
/// bytes and serves the connection. Under TLS, a peer must have presented a
/// certificate (`certified`).
async fn serve_protocol<M: Commands>(
    shared: &Arc<Server<M>>,
    mut stream: Box<dyn Stream>,
    addr: SocketAddr,
    certified: bool,
) {
    let deadline = shared.settings.handshake_timeout;
    let mut first = [0u8; 1];
    match tokio::time::timeout(deadline, stream.read_exact(&mut first)).await {
        Ok(Ok(_)) => {}
        _ => {
            tracing::debug!("closed a connection from {addr} that sent nothing");
            return;
        }
    }
    if first[0] == MAGIC[0] {
        if !certified {
            shared.metrics.rejected(Rejected::Peer);
            tracing::warn!("refused a peer connection from {addr}: no TLS client certificate");
            return;
        }
        let handshake = async {
            let mut magic = vec![0u8; MAGIC.len() - 1];
            stream.read_exact(&mut magic).await?;
            if magic != MAGIC[1..] {
                return Ok(false);
            }
            check_handshake(&mut stream, shared.settings.auth.as_deref().unwrap_or("")).await
        };
        match tokio::time::timeout(deadline, handshake).await {
            Ok(Ok(true)) => serve_peer(&shared.raft, &shared.tasks, &mut stream).await,
            _ => {
                shared.metrics.rejected(Rejected::Peer);
                tracing::warn!("refused a peer connection from {addr}: bad handshake or secret")
            }
        }
        return;
    }
    let mut received = BytesMut::from(&first[..]);
    if !shared.extensions.services.is_empty() {
        match tokio::time::timeout(deadline, sniff(shared, &mut stream, &mut received)).await {
            Ok(Ok(Some(service))) => {
                let mut conn = Conn::new(next_id(shared), addr, shared.pubsub.clone());
                if let Err(refused) = shared.extensions.hooks.connected(&mut conn) {
                    shared.metrics.rejected(Rejected::Hook);
                    tracing::debug!("connection {} from {addr} refused: {refused}", conn.id());
                    return;
                }
                let _closed = shared.extensions.hooks.on_close(conn.clone());
                let service_conn = ServiceConn {
                    received,
                    stream,
                    conn,
                    node: shared.local_node(),
                };
                service.serve(service_conn).await;
                return;
            }
            Ok(Ok(None)) => {}
            _ => {
                tracing::debug!("closed a connection from {addr} that never said what it is");
                return;
            }
        }
    }
    serve_redis(shared, stream, received, Some(addr)).await;
}

fn next_id<M>(shared: &Server<M>) -> u64 {
    shared.next_client_id.fetch_add(1, Ordering::Relaxed)
}

/// Reads until one service claims the connection (`Some`) or none does
/// (`None`), up to [`MAX_SNIFF`] bytes.
async fn sniff<M: Commands>(
    shared: &Server<M>,
    stream: &mut Box<dyn Stream>,
    received: &mut BytesMut,
) -> std::io::Result<Option<Arc<dyn crate::Service>>> {
    loop {
        let mut undecided = false;
        for service in &shared.extensions.services {
            match service.sniff(received) {
                Sniff::Mine => return Ok(Some(service.clone())),
                Sniff::NeedMore => undecided = true,
                Sniff::NotMine => {}
            }
        }
        if !undecided || received.len() >= MAX_SNIFF {
            return Ok(None);
        }
        received.reserve(MAX_SNIFF - received.len());
        if stream.read_buf(received).await? == 0 {
            return Ok(None);
        }
    }
}

/// Serves a Redis client whose first bytes are in `received`: registers it,
/// asks the connect hook, and serves it until it leaves. `addr` is `None`
/// for a connection from inside the process (a local client), which the
/// hooks do not see: they are for the node's clients, and a service's own
/// local connections would otherwise meet them twice.
pub async fn serve_redis<M: Commands>(
    shared: &Server<M>,
    mut stream: Box<dyn Stream>,
    received: BytesMut,
    addr: Option<SocketAddr>,
) {
    let id = next_id(shared);
    let hooks = addr.map(|_| &shared.extensions.hooks);
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let client = shared.clients.register(id, addr, shared.clients.local);
    let authed = shared.settings.auth.is_none();
    let mut session = Session::new(client, authed, shared.pubsub.clone());
    if let Some(Err(refused)) = hooks.map(|h| h.connected(&mut session.conn)) {
        shared.metrics.rejected(Rejected::Hook);
        tracing::debug!("client {id} from {addr} refused: {refused}");
        let mut out = BytesMut::new();
        Reply::error(refused).encode(session.protocol, &mut out);
        refuse(&mut stream, &out).await;
        return;
    }
    tracing::debug!("client {id} connected from {addr}");
    let _closed = hooks.map(|h| h.on_close(session.conn.clone()));
    serve_client(shared, stream, received, session).await;
}

/// Sends `reply` and closes, reading what the client sent meanwhile (for a
/// moment at most): closing with unread bytes would reset the connection
/// and could destroy the reply before the client reads it.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, reply: &[u8]) {
    const LINGER: Duration = Duration::from_secs(1);
    if stream.write_all(reply).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let drain = async { while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
