//! An HTTP front end on the node's own port: `curl
//! http://127.0.0.1:11001/TICKET` runs `TICKET` through the same dispatch
//! as a Redis client (writes go through Raft, a follower passes them on to
//! the leader, `--auth` applies) and answers in JSON.
//!
//! The path is the command, one argument per segment, percent-decoded:
//! `/LAST`, `/RAFT/LEADER`. The cluster's secret goes in
//! `Authorization: Bearer <secret>` (or basic auth's password: `curl -u
//! :secret`). Each request gets one response and the connection closes.

use base64::prelude::{Engine, BASE64_STANDARD};
use serde_json::{json, Number, Value};
use std::future::Future;
use std::pin::Pin;
use tokio::io::AsyncWriteExt;
use uhaha::{ClientError, Reply, Service, ServiceConn, Sniff};

/// Largest request head (request line and headers) accepted.
const MAX_HEAD: usize = 8192;
const METHODS: [&[u8]; 4] = [b"GET ", b"POST ", b"PUT ", b"HEAD "];

/// The HTTP service; register it with `NodeBuilder::service`.
pub struct Http;

impl Service for Http {
    /// Claims a connection whose first line is an HTTP request line. A
    /// Redis inline command such as `GET key` has no ` HTTP/1.x` at the end
    /// of its line, so it stays a Redis client.
    fn sniff(&self, first: &[u8]) -> Sniff {
        let method = METHODS.iter().any(|m| {
            let n = first.len().min(m.len());
            first[..n] == m[..n]
        });
        if !method {
            return Sniff::NotMine;
        }
        match first.windows(2).position(|w| w == b"\r\n") {
            None => Sniff::NeedMore,
            Some(end) if first[..end].ends_with(b" HTTP/1.1") => Sniff::Mine,
            Some(end) if first[..end].ends_with(b" HTTP/1.0") => Sniff::Mine,
            Some(_) => Sniff::NotMine,
        }
    }

    fn serve(&self, conn: ServiceConn) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(serve(conn))
    }
}

async fn serve(mut conn: ServiceConn) {
    let (status, body) = match conn.read_http_head(MAX_HEAD).await {
        Some(head) => respond(&conn, &head).await,
        None => (400, error_json("bad request")),
    };
    let response = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        reason(status),
        body.len()
    );
    let _ = conn.stream.write_all(response.as_bytes()).await;
    let _ = conn.stream.shutdown().await;
}

/// Runs the request's command and returns the status and JSON body.
async fn respond(conn: &ServiceConn, head: &str) -> (u16, String) {
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/");
    let args: Vec<Vec<u8>> = path
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    if args.is_empty() {
        return (404, error_json("the path names the command: /TICKET"));
    }
    let secret = lines.find_map(bearer_secret);
    let mut client = match conn.client(secret.as_deref()).await {
        Ok(client) => client,
        Err(ClientError::Reply(e)) => return (401, error_json(e.as_str())),
        Err(e) => return (503, error_json(&e.to_string())),
    };
    match client.call(&args).await {
        Ok(Reply::Error(e)) if e.starts_with("NOAUTH") || e.starts_with("WRONGPASS") => {
            (401, error_json(&e))
        }
        Ok(Reply::Error(e)) => (400, error_json(&e)),
        Ok(reply) => (200, json!({ "result": json(&reply) }).to_string()),
        Err(e) => (503, error_json(&e.to_string())),
    }
}

/// The secret of an `Authorization` header: a bearer token, or the
/// password of basic auth.
fn bearer_secret(header: &str) -> Option<String> {
    let (name, value) = header.split_once(':')?;
    if !name.trim().eq_ignore_ascii_case("authorization") {
        return None;
    }
    let (scheme, credentials) = value.trim().split_once(' ')?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = BASE64_STANDARD.decode(credentials.trim()).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (_, password) = decoded.split_once(':')?;
        return Some(password.to_string());
    }
    None
}

fn percent_decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    out
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Service Unavailable",
    }
}

fn error_json(message: &str) -> String {
    json!({ "error": message }).to_string()
}

/// A reply as JSON: numbers, strings, null, lists and objects (whose keys
/// must be strings); a kind of reply this example does not know is null.
fn json(reply: &Reply) -> Value {
    match reply {
        Reply::Status(s) | Reply::Verbatim(s) => s.as_str().into(),
        Reply::Error(e) => json!({ "error": e }),
        Reply::Integer(n) => (*n).into(),
        Reply::Bulk(b) => String::from_utf8_lossy(b).into(),
        Reply::Array(items) | Reply::Set(items) => items.iter().map(json).collect(),
        Reply::Map(pairs) => {
            Value::Object(pairs.iter().map(|(k, v)| (json_key(k), json(v))).collect())
        }
        Reply::Double(d) => {
            Number::from_f64(*d).map_or_else(|| d.to_string().into(), Value::Number)
        }
        Reply::Boolean(b) => (*b).into(),
        _ => Value::Null,
    }
}

/// A map key as a JSON object's key, which must be a string.
fn json_key(key: &Reply) -> String {
    match json(key) {
        Value::String(s) => s,
        other => other.to_string(),
    }
}
