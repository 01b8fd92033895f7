//! One client connection: read bytes, split them into commands, dispatch
//! each, and write the replies back in request order with one flush per
//! batch of pipelined commands, in the protocol the client chose with
//! `HELLO`.

use super::Server;
use crate::command::{Commands, Reply};
use crate::metrics::Rejected;
use crate::server::dispatch::Flow;
use crate::server::hijack::Hijacked;
use crate::server::reply_queue::{shrink_if_empty, ReplyQueue};
use crate::server::resp::RequestParser;
use crate::server::session::Session;
use crate::tls::Stream;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one client until it leaves, sends `QUIT`, breaks the protocol,
/// or a hijacker closes it.
pub async fn serve_client<M: Commands>(
    shared: &Server<M>,
    mut stream: Box<dyn Stream>,
    mut buf: BytesMut,
    mut session: Session,
) {
    let mut parser = RequestParser::new(shared.settings.limits);
    let mut queue = ReplyQueue::counted(
        shared.proposer.clone(),
        shared.metrics.clone(),
        &shared.observers,
        &session,
    );
    let mut read = buf.len();
    loop {
        let mut flow = Flow::Continue;
        let mut commands = 0;
        while matches!(flow, Flow::Continue) {
            match parser.next(&mut buf) {
                Ok(Some(cmd)) => {
                    commands += 1;
                    flow = shared.dispatch(&mut session, cmd, &mut queue).await;
                    if queue.full() && queue.flush_counted(&mut stream, &session).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!("client {}: {e}", session.id());
                    shared.metrics.rejected(Rejected::Protocol);
                    queue.ready(Reply::Error(e.to_string()));
                    flow = Flow::Close;
                }
            }
        }
        session
            .client
            .batch(commands, session.last_command, read as u64);
        if queue.flush_counted(&mut stream, &session).await.is_err() || matches!(flow, Flow::Close)
        {
            let _ = stream.shutdown().await;
            return;
        }
        match flow {
            Flow::Hijack(hijack) => {
                let conn =
                    Hijacked::new(stream, buf, parser, session.protocol, session.conn.clone());
                let Some(back) = hijack.run(conn).await else {
                    return;
                };
                (stream, buf, parser) = back.into_parts();
                // Commands may wait in the buffer: parse before reading.
                read = 0;
                queue.received();
                continue;
            }
            Flow::Continue | Flow::Close => {}
        }
        shrink_if_empty(&mut buf, 0);
        buf.reserve(16 << 10);
        read = match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        queue.received();
    }
}
