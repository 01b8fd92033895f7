//! The node's own HTTP endpoints, on its port beside Redis: `GET /livez`
//! (the process serves) and `GET /readyz` (the node is ready, see
//! [`super::health`]; `503` and the reason otherwise), for load balancers
//! and Kubernetes probes, and `GET /metrics` for Prometheus (see
//! [`crate::metrics`]). They come before the program's own services, so
//! that an HTTP service of its own keeps every other path. The probes need
//! no `--auth`: they tell whether the node can serve, nothing of its data;
//! `/metrics` does, as a bearer token (`Authorization: Bearer <secret>`,
//! Prometheus's `authorization: {credentials: <secret>}`). Each request
//! gets one response and the connection closes.

use super::health::{Lifecycle, NotReady};
use super::service::{Service, ServiceConn, Sniff};
use crate::metrics::{self, Metrics};
use crate::raft::Raft;
use crate::secret::same_secret;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 8192;

/// The request lines' starts that this service claims.
const CLAIMED: [&[u8]; 5] = [
    b"GET /livez",
    b"GET /readyz",
    b"GET /metrics",
    b"HEAD /livez",
    b"HEAD /readyz",
];

/// `/livez`, `/readyz` and `/metrics`.
pub struct Endpoints {
    pub lifecycle: Arc<Lifecycle>,
    pub raft: Raft,
    pub metrics: Arc<Metrics>,
    /// The cluster's secret, which `/metrics` asks for.
    pub auth: Option<String>,
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
        let answer = Answer {
            readiness: self.lifecycle.readiness(&self.raft),
            metrics: self.metrics.clone(),
            auth: self.auth.clone(),
        };
        Box::pin(serve(conn, answer))
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

/// What a request is answered from: the readiness when it came, the
/// metrics and the secret they ask for.
struct Answer {
    readiness: Result<(), NotReady>,
    metrics: Arc<Metrics>,
    auth: Option<String>,
}

/// A response: its status, content type and body.
type Response = (u16, &'static str, String);

const TEXT: &str = "text/plain; charset=utf-8";

async fn serve(mut conn: ServiceConn, answer: Answer) {
    let Some(head) = conn.read_http_head(MAX_HEAD).await else {
        return;
    };
    let line = head.lines().next().unwrap_or_default();
    let (status, content_type, body) = respond(line, &head, answer);
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        _ => "Service Unavailable",
    };
    let body = if line.starts_with("HEAD ") { "" } else { &body };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len(),
    );
    let _ = conn.stream.write_all(response.as_bytes()).await;
    let _ = conn.stream.shutdown().await;
}

fn respond(line: &str, head: &str, answer: Answer) -> Response {
    if line.contains(" /livez") {
        return (200, TEXT, "ok\n".into());
    }
    if line.contains(" /metrics") {
        let allowed = match &answer.auth {
            None => true,
            Some(secret) => bearer_token(head)
                .is_some_and(|token| same_secret(secret.as_bytes(), token.as_bytes())),
        };
        return match allowed {
            true => (200, metrics::CONTENT_TYPE, answer.metrics.encode()),
            false => (
                401,
                TEXT,
                "the cluster's secret is needed: Authorization: Bearer <secret>\n".into(),
            ),
        };
    }
    match answer.readiness {
        Ok(()) => (200, TEXT, "ok\n".into()),
        Err(why) => (503, TEXT, format!("not ready: {why}\n")),
    }
}

/// The token of an `Authorization: Bearer <token>` header in `head`.
fn bearer_token(head: &str) -> Option<&str> {
    head.lines().skip(1).find_map(|header| {
        let (name, value) = header.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("authorization") {
            return None;
        }
        let (scheme, token) = value.trim().split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    })
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
