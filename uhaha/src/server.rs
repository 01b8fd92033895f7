//! The listener: accepts connections on the node's one port and serves each
//! in its own task, so that a slow or silent client never holds up another.

use crate::command::Commands;
use crate::connection::serve_client;
use crate::dispatch::Session;
use crate::node::Shared;
use bytes::BytesMut;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Most connections served at once; more wait in the kernel's backlog.
const MAX_CONNECTIONS: usize = 10_000;

/// Accepts connections until the process ends.
pub async fn run<M: Commands>(listener: TcpListener, shared: Arc<Shared<M>>) {
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
        let shared = shared.clone();
        tokio::spawn(async move {
            let session = Session {
                id: shared.next_client_id.fetch_add(1, Ordering::Relaxed),
                authed: shared.config.auth.is_none(),
                name: None,
            };
            tracing::debug!("client {} connected from {addr}", session.id);
            serve_client(&shared, &mut stream, BytesMut::new(), session).await;
            drop(permit);
        });
    }
}
