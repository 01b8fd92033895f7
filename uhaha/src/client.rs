//! A minimal Redis client for node-to-node calls (joining a cluster): send
//! one command, read one reply. Replies are parsed by `redis-protocol`.

use crate::tls::{dial, Stream, Tls};
use redis_protocol::resp2::decode::decode;
use redis_protocol::resp2::types::OwnedFrame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A connection to another node's Redis port.
pub struct NodeClient {
    stream: Box<dyn Stream>,
    buf: Vec<u8>,
}

/// What a call returned, or why it failed.
#[derive(Debug)]
pub enum CallError {
    /// The connection failed.
    Io(std::io::Error),
    /// The node answered with an error reply.
    Reply(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Io(e) => write!(f, "{e}"),
            CallError::Reply(e) => f.write_str(e),
        }
    }
}

impl NodeClient {
    /// Connects (under TLS when `tls` is given), and authenticates when
    /// `auth` is given.
    pub async fn connect(
        addr: &str,
        auth: Option<&str>,
        tls: Option<&Tls>,
    ) -> Result<NodeClient, CallError> {
        let stream = dial(addr, tls).await.map_err(CallError::Io)?;
        let mut client = NodeClient {
            stream,
            buf: Vec::new(),
        };
        if let Some(secret) = auth {
            client.call(&["AUTH", secret]).await?;
        }
        Ok(client)
    }

    /// Sends a command and returns its reply; an error reply is an `Err`.
    pub async fn call(&mut self, args: &[&str]) -> Result<OwnedFrame, CallError> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        self.stream
            .write_all(&request)
            .await
            .map_err(CallError::Io)?;
        loop {
            if let Some((frame, used)) = decode(&self.buf)
                .map_err(|e| CallError::Io(std::io::Error::other(e.to_string())))?
            {
                self.buf.drain(..used);
                return match frame {
                    OwnedFrame::Error(e) => Err(CallError::Reply(e)),
                    other => Ok(other),
                };
            }
            let mut chunk = [0u8; 4096];
            let n = self.stream.read(&mut chunk).await.map_err(CallError::Io)?;
            if n == 0 {
                return Err(CallError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}
