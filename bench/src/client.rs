//! The load generator: one tokio task per connection, each sending a
//! pipeline of requests and reading all of its replies before the next.
//!
//! It is built to cost little CPU, since it runs on the same two cores as
//! the nodes it measures: requests come pre-encoded from
//! [`crate::workload`], replies are only delimited by
//! [`crate::scanner`], never decoded, and buffers are reused for the
//! whole run. A pipeline's requests all get the batch's round-trip time as
//! their latency, as `redis-benchmark` does.

use crate::latency::micros;
use crate::scanner::{scan, Scan};
use crate::workload::RequestMaker;
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::ReadHalf;
use tokio::net::TcpStream;

/// One client connection and its reusable buffers.
pub struct Connection {
    stream: TcpStream,
    /// The batch being sent.
    out: Vec<u8>,
    /// Replies read but not yet scanned start at `replies[scanned..]`.
    replies: Vec<u8>,
    scanned: usize,
}

/// Opens `n` connections to `addr`.
pub async fn connect(addr: &str, n: u32) -> io::Result<Vec<Connection>> {
    let mut conns = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let stream = TcpStream::connect(addr).await?;
        // A pipeline is written in one call; Nagle would only delay it.
        stream.set_nodelay(true)?;
        conns.push(Connection {
            stream,
            out: Vec::with_capacity(4096),
            replies: Vec::with_capacity(16 * 1024),
            scanned: 0,
        });
    }
    Ok(conns)
}

/// When a connection stops sending.
#[derive(Debug, Clone, Copy)]
pub enum Stop {
    /// Once this instant has passed (a batch started before it is still
    /// completed and counted).
    At(Instant),
    /// After this many requests in total, shared out among connections.
    Requests(u64),
    /// When the request maker has nothing left (a fill).
    Exhausted,
}

/// What a phase did, summed over its connections.
#[derive(Debug, Default)]
pub struct PhaseResult {
    /// Requests answered.
    pub requests: u64,
    /// Error replies among them.
    pub errors: u64,
    /// The text of the first error reply, to tell why.
    pub first_error: Option<String>,
    /// One latency per request, in microseconds (only when recorded).
    pub samples: Vec<u32>,
    /// Why connections broke (each broken connection is left out of later
    /// phases).
    pub failures: Vec<String>,
    /// From the phase's start to its last reply.
    pub elapsed: Duration,
}

/// Runs one phase on every connection at once, connection `i` making its
/// requests with `makers[i]`; `record` keeps latency samples. Returns the
/// connections that are still usable.
pub async fn run_phase(
    conns: Vec<Connection>,
    makers: Vec<RequestMaker>,
    pipeline: u32,
    stop: Stop,
    record: bool,
) -> (Vec<Connection>, PhaseResult) {
    let start = Instant::now();
    let n = conns.len() as u64;
    let tasks: Vec<_> = conns
        .into_iter()
        .zip(makers)
        .enumerate()
        .map(|(i, (conn, maker))| {
            let quota = match stop {
                Stop::Requests(total) => total / n + u64::from((i as u64) < total % n),
                _ => u64::MAX,
            };
            let deadline = match stop {
                Stop::At(t) => Some(t),
                _ => None,
            };
            tokio::spawn(drive(
                conn,
                maker,
                pipeline as usize,
                deadline,
                quota,
                record,
            ))
        })
        .collect();
    let mut total = PhaseResult::default();
    let mut last_reply = start;
    let mut alive = Vec::new();
    for task in tasks {
        let (conn, result) = task.await.expect("a connection task panicked");
        alive.extend(conn);
        last_reply = last_reply.max(result.last_reply);
        total.requests += result.requests;
        total.errors += result.errors;
        total.first_error = total.first_error.or(result.first_error);
        total.samples.extend_from_slice(&result.samples);
        total.failures.extend(result.failure);
    }
    total.elapsed = last_reply - start;
    (alive, total)
}

/// What one connection did in a phase.
struct ConnResult {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    samples: Vec<u32>,
    failure: Option<String>,
    last_reply: Instant,
}

/// Sends batches until the deadline, the quota or the maker runs out; the
/// connection comes back unless it broke.
async fn drive(
    mut conn: Connection,
    mut maker: RequestMaker,
    pipeline: usize,
    deadline: Option<Instant>,
    quota: u64,
    record: bool,
) -> (Option<Connection>, ConnResult) {
    let mut result = ConnResult {
        requests: 0,
        errors: 0,
        first_error: None,
        samples: Vec::new(),
        failure: None,
        last_reply: Instant::now(),
    };
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let want = (pipeline as u64).min(quota - result.requests) as usize;
        conn.out.clear();
        let mut batch = 0;
        while batch < want && maker.push(&mut conn.out) {
            batch += 1;
        }
        if batch == 0 {
            break;
        }
        let sent = Instant::now();
        let Connection {
            stream,
            out,
            replies,
            scanned,
        } = &mut conn;
        let (mut rd, mut wr) = stream.split();
        // Written and read at once: a large pipeline must not wait for its
        // own write while the server waits for us to read its replies.
        let (written, read) = tokio::join!(
            wr.write_all(out),
            read_replies(&mut rd, replies, scanned, batch, &mut result)
        );
        if let Err(e) = written.and(read) {
            result.failure = Some(e.to_string());
            return (None, result);
        }
        result.last_reply = Instant::now();
        if record {
            let latency = micros(result.last_reply - sent);
            result.samples.extend(std::iter::repeat_n(latency, batch));
        }
        result.requests += batch as u64;
    }
    (Some(conn), result)
}

/// Reads until `count` whole replies have been scanned, counting error
/// replies into `result`.
async fn read_replies(
    rd: &mut ReadHalf<'_>,
    replies: &mut Vec<u8>,
    scanned: &mut usize,
    count: usize,
    result: &mut ConnResult,
) -> io::Result<()> {
    let mut got = 0;
    while got < count {
        match scan(&replies[*scanned..])
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?
        {
            Scan::Reply { len, error } => {
                if error {
                    result.errors += 1;
                    if result.first_error.is_none() {
                        let line = &replies[*scanned + 1..*scanned + len - 2];
                        result.first_error = Some(String::from_utf8_lossy(line).into_owned());
                    }
                }
                *scanned += len;
                got += 1;
            }
            Scan::Incomplete => {
                // Keep only the unscanned tail, then read after it.
                replies.drain(..*scanned);
                *scanned = 0;
                replies.reserve(16 * 1024);
                if rd.read_buf(replies).await? == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed the connection",
                    ));
                }
            }
        }
    }
    if *scanned == replies.len() {
        replies.clear();
        *scanned = 0;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{CommandSet, Workload, WorkloadKind};
    use tokio::net::TcpListener;

    /// A fake server that answers every request (one per `\r\n$6\r\nTICKET`
    /// it sees) with an error for every third and `:1` otherwise, in chunks
    /// cut at odd places to exercise partial replies.
    async fn fake_server(listener: TcpListener) {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut seen = 0usize;
        let mut pending = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            pending.extend_from_slice(&buf[..n]);
            let request = b"*1\r\n$6\r\nTICKET\r\n";
            let mut out = Vec::new();
            while pending.starts_with(request) {
                pending.drain(..request.len());
                seen += 1;
                if seen.is_multiple_of(3) {
                    out.extend_from_slice(b"-ERR third\r\n");
                } else {
                    out.extend_from_slice(b":1\r\n");
                }
            }
            for chunk in out.chunks(5) {
                sock.write_all(chunk).await.unwrap();
                sock.flush().await.unwrap();
            }
        }
    }

    #[tokio::test]
    async fn counts_replies_errors_and_samples() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(fake_server(listener));
        let workload = Workload {
            kind: WorkloadKind::Write,
            commands: CommandSet::Ticket,
            read_ratio: 0.0,
            keyspace: 1,
            value_size: 0,
        };
        let conns = connect(&addr, 1).await.unwrap();
        let (conns, result) = run_phase(
            conns,
            vec![workload.requests(0)],
            4,
            Stop::Requests(30),
            true,
        )
        .await;
        assert_eq!(conns.len(), 1);
        assert_eq!(result.requests, 30);
        assert_eq!(result.errors, 10);
        assert_eq!(result.first_error.as_deref(), Some("ERR third"));
        assert_eq!(result.samples.len(), 30);
        assert!(result.failures.is_empty());
    }
}
