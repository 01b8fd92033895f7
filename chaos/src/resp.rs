//! A minimal RESP2 client: one request, one reply, nothing hidden. The
//! tool needs to know exactly what happened to every request (no retries,
//! no pooling, no redirects behind its back), so it does not use a full
//! client library.

use std::io;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// The reply as text, for bulk and simple strings.
    pub fn text(&self) -> Option<String> {
        match self {
            Reply::Status(s) => Some(s.clone()),
            Reply::Bulk(Some(b)) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }
}

/// Why a request got no reply.
#[derive(Debug)]
pub enum CallError {
    /// Could not connect: the request was never sent.
    Connect(io::Error),
    /// Sent, but the connection broke or the reply was malformed.
    Broken(io::Error),
    /// Sent, and no reply came in time.
    Timeout,
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Connect(e) => write!(f, "connect: {e}"),
            CallError::Broken(e) => write!(f, "connection broken: {e}"),
            CallError::Timeout => f.write_str("timed out"),
        }
    }
}

/// One connection to one node.
pub struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    /// Connects within `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Conn, CallError> {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                Ok(Conn {
                    stream: BufReader::new(stream),
                })
            }
            Ok(Err(e)) => Err(CallError::Connect(e)),
            Err(_) => Err(CallError::Connect(io::ErrorKind::TimedOut.into())),
        }
    }

    /// Sends one command and reads its reply within `timeout`. After an
    /// error the connection must be dropped.
    pub async fn call(&mut self, args: &[&str], timeout: Duration) -> Result<Reply, CallError> {
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        let exchange = async {
            self.stream.get_mut().write_all(request.as_bytes()).await?;
            read_reply(&mut self.stream).await
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(e)) => Err(CallError::Broken(e)),
            Err(_) => Err(CallError::Timeout),
        }
    }
}

/// Connects, sends one command, and returns its reply.
pub async fn once(addr: &str, args: &[&str], timeout: Duration) -> Result<Reply, CallError> {
    Conn::connect(addr, timeout)
        .await?
        .call(args, timeout)
        .await
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed reply: {what}"),
    )
}

async fn line(r: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut s = String::new();
    if r.read_line(&mut s).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(s.trim_end_matches(['\r', '\n']).to_string())
}

fn read_reply(
    r: &mut BufReader<TcpStream>,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<Reply>> + Send + '_>> {
    Box::pin(async move {
        let l = line(r).await?;
        let (kind, rest) = l
            .split_at_checked(1)
            .ok_or_else(|| malformed("empty line"))?;
        let number = || rest.parse::<i64>().map_err(|_| malformed(&l));
        Ok(match kind {
            "+" => Reply::Status(rest.into()),
            "-" => Reply::Error(rest.into()),
            ":" => Reply::Int(number()?),
            "_" => Reply::Bulk(None),
            "$" => match number()? {
                n if n < 0 => Reply::Bulk(None),
                n => {
                    let mut buf = vec![0; n as usize + 2];
                    r.read_exact(&mut buf).await?;
                    buf.truncate(n as usize);
                    Reply::Bulk(Some(buf))
                }
            },
            "*" => match number()? {
                n if n < 0 => Reply::Array(None),
                n => {
                    let mut items = Vec::with_capacity(n as usize);
                    for _ in 0..n {
                        items.push(read_reply(r).await?);
                    }
                    Reply::Array(Some(items))
                }
            },
            _ => return Err(malformed(&l)),
        })
    })
}
