//! The listener: accepts connections on the node's one port and serves each
//! in its own task, so that a slow or silent client never holds up another.

use crate::clients::Clients;
use crate::command::Commands;
use crate::connection::serve_client;
use crate::node::Shared;
use crate::raft::{check_handshake, serve_peer, MAGIC};
use crate::session::Session;
use crate::tls::{self, Tls};
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

/// Accepts connections until the process ends.
pub async fn run<M: Commands>(listener: TcpListener, shared: Arc<Shared<M>>) {
    let local = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let clients = Arc::new(Clients::new(local));
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
        let (shared, clients) = (shared.clone(), clients.clone());
        tokio::spawn(async move {
            serve_connection(&shared, &clients, stream, addr).await;
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
    shared: &Shared<M>,
    clients: &Arc<Clients>,
    mut stream: TcpStream,
    addr: SocketAddr,
) {
    let deadline = shared.config.handshake_timeout;
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(deadline, stream.peek(&mut first)).await;
    let Ok(Ok(1)) = peeked else {
        tracing::debug!("closed a connection from {addr} that sent nothing");
        return;
    };
    let tls_hello = first[0] == tls::HANDSHAKE_BYTE;
    match (&shared.tls, tls_hello) {
        (Some(tls), true) => match tokio::time::timeout(deadline, tls.accept(stream)).await {
            Ok(Ok(mut stream)) => {
                let certified = Tls::has_client_certificate(&stream);
                serve_protocol(shared, clients, &mut stream, addr, certified).await
            }
            Ok(Err(e)) => tracing::warn!("TLS handshake with {addr} failed: {e}"),
            Err(_) => tracing::warn!("TLS handshake with {addr} timed out"),
        },
        (Some(_), false) => {
            tracing::warn!("refused a plain-text connection from {addr}: this node requires TLS");
            let _ = stream.write_all(b"-ERR this node requires TLS\r\n").await;
        }
        (None, true) => {
            tracing::warn!("refused a TLS connection from {addr}: this node has no --tls-cert")
        }
        (None, false) => serve_protocol(shared, clients, &mut stream, addr, true).await,
    }
}

/// Tells a Raft peer from a Redis client by the first byte and serves it.
/// Under TLS, a peer must have presented a certificate (`certified`).
async fn serve_protocol<M: Commands, S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared<M>,
    clients: &Arc<Clients>,
    stream: &mut S,
    addr: SocketAddr,
    certified: bool,
) {
    let deadline = shared.config.handshake_timeout;
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
            tracing::warn!("refused a peer connection from {addr}: no TLS client certificate");
            return;
        }
        let handshake = async {
            let mut magic = vec![0u8; MAGIC.len() - 1];
            stream.read_exact(&mut magic).await?;
            if magic != MAGIC[1..] {
                return Ok(false);
            }
            check_handshake(stream, shared.config.auth.as_deref().unwrap_or("")).await
        };
        match tokio::time::timeout(deadline, handshake).await {
            Ok(Ok(true)) => serve_peer(&shared.raft, stream).await,
            _ => tracing::warn!("refused a peer connection from {addr}: bad handshake or secret"),
        }
        return;
    }
    let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
    let client = clients.register(id, addr, clients.local);
    let session = Session::new(client, shared.config.auth.is_none());
    tracing::debug!("client {id} connected from {addr}");
    serve_client(shared, stream, BytesMut::from(&first[..]), session).await;
}
