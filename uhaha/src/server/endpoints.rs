//! The node's own HTTP endpoints, on its port beside Redis: `GET /livez`
//! (the process serves) and `GET /readyz` (the node is ready, see
//! [`super::health`]; `503` and the reason otherwise), for load balancers
//! and Kubernetes probes. They come before the program's own services, so
//! that an HTTP service of its own keeps every other path. They need no
//! `--auth`: they tell whether the node can serve, nothing of its data.
//! Each request gets one response and the connection closes.

use super::health::Lifecycle;
use super::service::{Service, ServiceConn, Sniff};
use crate::raft::Raft;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 8192;

/// The request lines' starts that this service claims.
const CLAIMED: [&[u8]; 4] = [
    b"GET /livez",
    b"GET /readyz",
    b"HEAD /livez",
    b"HEAD /readyz",
];

/// `/livez` and `/readyz`.
pub struct Endpoints {
    pub lifecycle: Arc<Lifecycle>,
    pub raft: Raft,
}

impl Service for Endpoints {
    fn sniff(&self, first: &[u8]) -> Sniff {
        let verdicts = CLAIMED.iter().map(|start| sniff_request_line(first, start));
        verdicts.fold(Sniff::NotMine, |verdict, next| match (verdict, next) {
            (Sniff::Mine, _) | (_, Sniff::Mine) => Sniff::Mine,
            (Sniff::NeedMore, _) | (_, Sniff::NeedMore) => Sniff::NeedMore,
            _ => Sniff::NotMine,
        })
    }

    fn serve(&self, conn: ServiceConn) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        let readiness = self.lifecycle.readiness(&self.raft);
        Box::pin(serve(conn, readiness))
    }
}

/// Whether `first` is the start of an HTTP/1 request line that starts with
/// `start` and then ends its path (a space or a query). A Redis inline
/// command (`GET /livez` with no ` HTTP/1.1`) stays a Redis command.
fn sniff_request_line(first: &[u8], start: &[u8]) -> Sniff {
    let n = first.len().min(start.len());
    if first[..n] != start[..n] {
        return Sniff::NotMine;
    }
    let Some(end) = first.windows(2).position(|w| w == b"\r\n") else {
        return Sniff::NeedMore;
    };
    let line = &first[..end];
    let path_ends = matches!(line.get(start.len()), Some(b' ' | b'?'));
    if path_ends && (line.ends_with(b" HTTP/1.1") || line.ends_with(b" HTTP/1.0")) {
        Sniff::Mine
    } else {
        Sniff::NotMine
    }
}

async fn serve(mut conn: ServiceConn, readiness: Result<(), super::health::NotReady>) {
    let Some(head) = conn.read_http_head(MAX_HEAD).await else {
        return;
    };
    let line = head.lines().next().unwrap_or_default();
    let (status, body) = if line.contains(" /livez") {
        (200, "ok\n".to_string())
    } else {
        match readiness {
            Ok(()) => (200, "ok\n".to_string()),
            Err(why) => (503, format!("not ready: {why}\n")),
        }
    };
    let reason = if status == 200 {
        "OK"
    } else {
        "Service Unavailable"
    };
    let head_only = line.starts_with("HEAD ");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if head_only { "" } else { &body }
    );
    let _ = conn.stream.write_all(response.as_bytes()).await;
    let _ = conn.stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_probe_request_lines_are_claimed() {
        let sniff = |bytes: &[u8]| {
            CLAIMED
                .iter()
                .map(|s| sniff_request_line(bytes, s))
                .find(|v| *v != Sniff::NotMine)
                .unwrap_or(Sniff::NotMine)
        };
        assert_eq!(sniff(b"GET /readyz HTTP/1.1\r\n"), Sniff::Mine);
        assert_eq!(sniff(b"HEAD /livez?verbose HTTP/1.0\r\n"), Sniff::Mine);
        assert_eq!(sniff(b"GET /rea"), Sniff::NeedMore);
        assert_eq!(sniff(b"GET /readyz HTTP/1.1"), Sniff::NeedMore);
        assert_eq!(sniff(b"GET /readyzz HTTP/1.1\r\n"), Sniff::NotMine);
        assert_eq!(
            sniff(b"GET /livez\r\n"),
            Sniff::NotMine,
            "a Redis inline GET"
        );
        assert_eq!(sniff(b"GET /TICKET HTTP/1.1\r\n"), Sniff::NotMine);
        assert_eq!(sniff(b"*1\r\n$4\r\nPING\r\n"), Sniff::NotMine);
    }
}
