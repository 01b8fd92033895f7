//! The listener: accepts connections on the node's one port and serves each
//! in its own task, so that a slow or silent client never holds up another.

use crate::clients::Clients;
use crate::command::Commands;
use crate::connection::serve_client;
use crate::node::Shared;
use crate::raft::{check_handshake, serve_peer, HANDSHAKE_DEADLINE, MAGIC};
use crate::session::Session;
use bytes::BytesMut;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;
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
        let (mut stream, addr) = match listener.accept().await {
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
            serve_connection(&shared, &clients, &mut stream, addr).await;
            drop(permit);
        });
    }
}

/// Tells a Raft peer from a Redis client by the first byte and serves it.
/// A client is served at once; a peer must finish its handshake within a
/// deadline and prove the cluster's secret.
async fn serve_connection<M: Commands>(
    shared: &Shared<M>,
    clients: &Arc<Clients>,
    stream: &mut TcpStream,
    addr: SocketAddr,
) {
    let mut first = [0u8; 1];
    match stream.peek(&mut first).await {
        Ok(1) if first[0] == MAGIC[0] => {
            let handshake = async {
                let mut magic = vec![0u8; MAGIC.len()];
                stream.read_exact(&mut magic).await?;
                if magic != MAGIC {
                    return Ok(false);
                }
                check_handshake(stream, shared.config.auth.as_deref().unwrap_or("")).await
            };
            match tokio::time::timeout(HANDSHAKE_DEADLINE, handshake).await {
                Ok(Ok(true)) => serve_peer(&shared.raft, stream).await,
                _ => {
                    tracing::warn!("refused a peer connection from {addr}: bad handshake or secret")
                }
            }
        }
        Ok(1) => {
            let id = shared.next_client_id.fetch_add(1, Ordering::Relaxed);
            let laddr = stream.local_addr().unwrap_or(clients.local);
            let client = clients.register(id, addr, laddr);
            let session = Session::new(client, shared.config.auth.is_none());
            tracing::debug!("client {id} connected from {addr}");
            serve_client(shared, stream, BytesMut::new(), session).await;
        }
        _ => {}
    }
}
