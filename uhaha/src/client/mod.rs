//! [`Client`]: a Redis client for uhaha clusters, for Rust programs, for
//! the code `#[uhaha::machine]` generates (`<Machine>Client`), for a node's
//! own local client and for joining a cluster.
//!
//! It speaks RESP3 and goes where the cluster sends it: a `MOVED` or `TRY`
//! reply is followed to the leader, a `CLUSTERDOWN` reply (no leader yet)
//! is retried until a deadline, and when the node it talks to is gone it
//! reconnects to another member (it learns them with `RAFT SERVER LIST`).
//! It never resends a command whose outcome it cannot know: when a
//! connection breaks after a command was sent, the call fails with
//! [`ClientError::Io`] and the next call reconnects.

mod decode;

use crate::command::{ErrorCode, Reply};
use crate::tls::{client_connector, dial, Stream, Tls, TlsConnector};
use bytes::{BufMut, BytesMut};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;

/// Most redirects one call follows: more means the cluster is confused.
const MAX_REDIRECTS: usize = 16;
/// How long to wait before trying again while the cluster elects.
const RETRY_DELAY: Duration = Duration::from_millis(100);
/// How long a call goes on trying by default.
const RETRY_FOR: Duration = Duration::from_secs(10);
/// How long a sent command may wait for its reply: a leader cut off from
/// its cluster holds writes until it learns it is no longer the leader.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// No member could be reached, or the connection broke (then the
    /// command may or may not have run).
    Io(std::io::Error),
    /// The server answered with an error (also how the typed client reports
    /// a command's error reply).
    Reply(ReplyError),
    /// The server broke the protocol, or a reply was not of the type
    /// expected.
    Protocol(String),
    /// The client's TLS settings could not be used (a CA file that cannot
    /// be read or holds no certificate).
    Tls(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io(e) => write!(f, "{e}"),
            ClientError::Reply(e) => e.fmt(f),
            ClientError::Protocol(e) => write!(f, "protocol error: {e}"),
            ClientError::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

/// An error reply: its code (the first word: `ERR`, `WRONGTYPE`, or one
/// of the framework's [`ErrorCode`]s) and its message.
///
/// ```
/// let e = uhaha::ReplyError::from("ERR increment or decrement would overflow");
/// assert_eq!(e.code(), "ERR");
/// assert_eq!(e.message(), "increment or decrement would overflow");
/// assert_eq!(e, "ERR increment or decrement would overflow");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError(String);

impl ReplyError {
    /// The error's code, its first word.
    pub fn code(&self) -> &str {
        self.0.split(' ').next().unwrap_or("")
    }

    /// The error's text after its code.
    pub fn message(&self) -> &str {
        self.0.split_once(' ').map_or("", |(_, message)| message)
    }

    /// The framework's code of this error, if it is one of them.
    pub fn error_code(&self) -> Option<ErrorCode> {
        ErrorCode::of(&self.0)
    }

    /// The whole text, as the server sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for ReplyError {
    fn from(text: String) -> Self {
        ReplyError(text)
    }
}

impl From<&str> for ReplyError {
    fn from(text: &str) -> Self {
        ReplyError(text.to_string())
    }
}

impl PartialEq<&str> for ReplyError {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReplyError {}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Opens a connection without a socket to the node at an address: how a
/// node's local client reaches the node it belongs to.
pub(crate) type LocalDialer = Arc<dyn Fn() -> Box<dyn Stream> + Send + Sync>;

/// How a client connects; shared by its connections.
#[derive(Clone, Default)]
struct Options {
    auth: Option<String>,
    retry_for: Option<Duration>,
    tls: Option<TlsConnector>,
    local: Option<(String, LocalDialer)>,
}

/// Settings for a [`Client`].
///
/// ```no_run
/// # async fn demo() -> Result<(), uhaha::ClientError> {
/// use std::time::Duration;
///
/// let mut client = uhaha::Client::builder()
///     .auth("secret")
///     .retry_for(Duration::from_secs(30))
///     .connect("127.0.0.1:11001,127.0.0.1:11002")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct ClientBuilder {
    options: Options,
    /// A CA file to trust, read when the client connects.
    tls_ca: Option<PathBuf>,
}

impl ClientBuilder {
    /// The cluster's `--auth` secret, sent with `HELLO` on every connection.
    pub fn auth(mut self, secret: impl Into<String>) -> Self {
        self.options.auth = Some(secret.into());
        self
    }

    /// How long a call goes on trying to reach a member and a leader before
    /// it gives up (10 seconds unless set).
    pub fn retry_for(mut self, duration: Duration) -> Self {
        self.options.retry_for = Some(duration);
        self
    }

    /// Connects under TLS to a cluster whose nodes run with `--tls-cert`,
    /// trusting the CA certificates in the PEM file `ca` (the nodes'
    /// `--tls-ca`, or the chain of their `--tls-cert`) and nothing from the
    /// system's store. Every node it dials, leaders it is redirected to
    /// included, must show a certificate for the host it is dialed at. The
    /// file is read when the client connects.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), uhaha::ClientError> {
    /// let mut client = uhaha::Client::builder()
    ///     .tls_ca_file("ca.pem")
    ///     .auth("secret")
    ///     .connect("127.0.0.1:11001")
    ///     .await?;
    /// client.call(&["TICKET"]).await?;
    /// # Ok(()) }
    /// ```
    pub fn tls_ca_file(mut self, ca: impl Into<PathBuf>) -> Self {
        self.tls_ca = Some(ca.into());
        self
    }

    /// Connects under TLS with the program's own rustls config: other
    /// roots, or a client certificate. Build it with the `ring` provider
    /// (`rustls::ClientConfig::builder_with_provider`), the one uhaha
    /// compiles in.
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.options.tls = Some(TlsConnector::from(config));
        self.tls_ca = None;
        self
    }

    /// Connects under TLS with a node's own settings.
    pub(crate) fn tls(mut self, tls: Option<&Tls>) -> Self {
        self.options.tls = tls.map(|tls| tls.connector().clone());
        self
    }

    /// Reaches the node at `addr` through `dialer` instead of a socket.
    pub(crate) fn local(mut self, addr: String, dialer: LocalDialer) -> Self {
        self.options.local = Some((addr, dialer));
        self
    }

    /// Connects to the first reachable of `addrs` (one address, or several
    /// separated by commas).
    pub async fn connect(mut self, addrs: &str) -> Result<Client, ClientError> {
        if let Some(ca) = &self.tls_ca {
            self.options.tls = Some(client_connector(ca).map_err(ClientError::Tls)?);
        }
        let mut client = Client {
            options: Arc::new(self.options),
            members: addrs.split(',').map(|a| a.trim().to_string()).collect(),
            conn: None,
        };
        let deadline = Instant::now() + client.retry_for();
        client.connected(deadline).await?;
        Ok(client)
    }
}

/// A client of a uhaha cluster that follows the leader by itself.
///
/// ```no_run
/// # async fn demo() -> Result<(), uhaha::ClientError> {
/// use uhaha::{Client, Reply};
///
/// let mut client = Client::connect("127.0.0.1:11001").await?;
/// let reply = client.call(&["TICKET"]).await?;
/// assert!(matches!(reply, Reply::Integer(_)));
/// # Ok(()) }
/// ```
pub struct Client {
    options: Arc<Options>,
    /// Addresses to try, the preferred one first.
    members: Vec<String>,
    conn: Option<Connection>,
}

impl Client {
    /// Connects to a node with default settings; see [`Client::builder`].
    pub async fn connect(addrs: &str) -> Result<Client, ClientError> {
        Client::builder().connect(addrs).await
    }

    /// Settings for a new client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The address of the node the client is connected to, if it is.
    pub fn addr(&self) -> Option<&str> {
        self.conn.as_ref().map(|c| c.addr.as_str())
    }

    fn retry_for(&self) -> Duration {
        self.options.retry_for.unwrap_or(RETRY_FOR)
    }

    /// Runs a command and returns its reply. Redirects and elections are
    /// handled here; any other error reply is returned as
    /// [`Reply::Error`].
    pub async fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Reply, ClientError> {
        if args.is_empty() {
            return Err(ClientError::Protocol("an empty command".into()));
        }
        let request = encode_request(args);
        let deadline = Instant::now() + self.retry_for();
        let mut redirects = 0;
        let mut sent_to: Option<String> = None;
        loop {
            let conn = self.connected(deadline).await?;
            if sent_to.take().is_some_and(|target| target != conn.addr) {
                // The leader we were sent to is gone: give the members a
                // moment to elect another.
                tokio::time::sleep(RETRY_DELAY).await;
            }
            let reply = match conn.request(&request).await {
                Ok(reply) => reply,
                Err(e) => {
                    self.conn = None;
                    return Err(e);
                }
            };
            let Reply::Error(message) = &reply else {
                return Ok(reply);
            };
            let waiting = Instant::now() < deadline;
            match Redirect::parse(message) {
                Some(Redirect::To(addr)) if redirects < MAX_REDIRECTS => {
                    redirects += 1;
                    self.prefer(addr.clone());
                    self.conn = None;
                    sent_to = Some(addr);
                }
                // Redirects that go round in circles: members that still
                // point at a leader that is gone, until they elect another.
                Some(Redirect::To(_) | Redirect::Wait) if waiting => {
                    redirects = 0;
                    tokio::time::sleep(RETRY_DELAY).await;
                }
                _ => return Ok(reply),
            }
        }
    }

    /// Puts `addr` first among the addresses to try.
    fn prefer(&mut self, addr: String) {
        self.members.retain(|m| *m != addr);
        self.members.insert(0, addr);
    }

    /// The open connection, or a new one to the first member that answers,
    /// trying until `deadline`.
    async fn connected(&mut self, deadline: Instant) -> Result<&mut Connection, ClientError> {
        if self.conn.is_some() {
            // Lets the runtime take in what happened to the socket since
            // the last reply (tokio defers a yielding task until its I/O
            // driver has run), so that a close is seen below.
            tokio::task::yield_now().await;
        }
        if self.conn.as_mut().is_some_and(|c| c.busy || c.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let conn = self.reconnect(deadline).await?;
            // A connection inside the node's own process cannot outlive
            // its node, so it need not know the other members: services
            // that take a local client per request skip that round trip.
            let local = self
                .options
                .local
                .as_ref()
                .is_some_and(|(a, _)| *a == conn.addr);
            self.conn = Some(conn);
            if !local {
                self.learn_members().await;
            }
        }
        if self.conn.as_ref().is_some_and(|c| c.busy) {
            // Lost while it was asked for the members.
            self.conn = None;
        }
        self.conn
            .as_mut()
            .ok_or_else(|| ClientError::Io(std::io::ErrorKind::ConnectionAborted.into()))
    }

    async fn reconnect(&mut self, deadline: Instant) -> Result<Connection, ClientError> {
        loop {
            let mut last = None;
            for (i, addr) in self.members.clone().into_iter().enumerate() {
                let left = deadline
                    .saturating_duration_since(Instant::now())
                    .max(RETRY_DELAY);
                let opened = tokio::time::timeout(left, Connection::open(&addr, &self.options))
                    .await
                    .unwrap_or_else(|_| Err(timed_out()));
                match opened {
                    Ok(conn) => {
                        // Stay with a member that answers.
                        let addr = self.members.remove(i);
                        self.members.insert(0, addr);
                        return Ok(conn);
                    }
                    // A refused certificate will not mend by itself, nor
                    // will a wrong password.
                    Err(ClientError::Io(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                        return Err(ClientError::Io(e))
                    }
                    Err(e @ ClientError::Reply(_)) => return Err(e),
                    Err(e) => last = Some(e),
                }
            }
            if Instant::now() >= deadline {
                return Err(last.unwrap_or_else(|| {
                    ClientError::Io(std::io::Error::other("no address to connect to"))
                }));
            }
            tokio::time::sleep(RETRY_DELAY).await;
        }
    }

    /// Adds the cluster's members to the addresses to try, so that the
    /// client finds the cluster again when its node is gone. Best effort: a
    /// server that is not a uhaha node has no `RAFT SERVER LIST`.
    async fn learn_members(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let Ok(Reply::Array(rows)) = conn
            .request(&encode_request(&["RAFT", "SERVER", "LIST"]))
            .await
        else {
            return;
        };
        for row in rows {
            if let Some(addr) = member_address(row) {
                if !self.members.contains(&addr) {
                    self.members.push(addr);
                }
            }
        }
    }
}

/// The `address` of a `RAFT SERVER LIST` row.
fn member_address(row: Reply) -> Option<String> {
    let fields = match row {
        Reply::Array(fields) => fields,
        Reply::Map(pairs) => pairs.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => return None,
    };
    let mut fields = fields.into_iter();
    while let (Some(key), Some(value)) = (fields.next(), fields.next()) {
        if let (Reply::Bulk(key), Reply::Bulk(value)) = (key, value) {
            if &key[..] == b"address" {
                return Some(String::from_utf8_lossy(&value).into_owned());
            }
        }
    }
    None
}

/// Where an error reply sends the client.
#[derive(Debug, PartialEq, Eq)]
enum Redirect {
    /// `MOVED <slot> <addr>` or `TRY <addr>`: ask the leader there.
    To(String),
    /// `CLUSTERDOWN` before a leader is known: the command did not run;
    /// ask again shortly.
    Wait,
}

impl Redirect {
    /// Where an error reply sends the client, decided by its code: a
    /// command that may have run (`SHUTDOWN`) is never sent again.
    fn parse(message: &str) -> Option<Redirect> {
        let mut words = message.split(' ').skip(1);
        match ErrorCode::of(message)? {
            ErrorCode::Moved => words.nth(1).map(|a| Redirect::To(a.to_string())),
            ErrorCode::Try => words.next().map(|a| Redirect::To(a.to_string())),
            ErrorCode::ClusterDown => Some(Redirect::Wait),
            _ => None,
        }
    }
}

/// A command as a RESP array of bulk strings.
fn encode_request<A: AsRef<[u8]>>(args: &[A]) -> BytesMut {
    let size: usize = args.iter().map(|a| a.as_ref().len() + 16).sum();
    let mut out = BytesMut::with_capacity(size + 16);
    out.put_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.put_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.put_slice(arg);
        out.put_slice(b"\r\n");
    }
    out
}

/// One connection to one node.
struct Connection {
    addr: String,
    stream: Box<dyn Stream>,
    buf: BytesMut,
    /// A request was sent and its reply not read (or it failed).
    busy: bool,
}

impl Connection {
    /// Connects to `addr` and says `HELLO 3`, authenticating when a secret
    /// is set.
    async fn open(addr: &str, options: &Options) -> Result<Connection, ClientError> {
        let stream = match &options.local {
            Some((local, dialer)) if local == addr => dialer(),
            _ => dial(addr, options.tls.as_ref())
                .await
                .map_err(ClientError::Io)?,
        };
        let mut conn = Connection {
            addr: addr.to_string(),
            stream,
            buf: BytesMut::with_capacity(4096),
            busy: false,
        };
        let mut hello = vec!["HELLO", "3"];
        if let Some(secret) = &options.auth {
            hello.extend(["AUTH", "default", secret]);
        }
        match conn.request(&encode_request(&hello)).await? {
            Reply::Error(e) => Err(ClientError::Reply(ReplyError(e))),
            _ => Ok(conn),
        }
    }

    /// Whether the other side has closed the connection (a node that was
    /// killed): checked before a command is sent, so that the command goes
    /// to a live member instead of failing with an unknown outcome.
    fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 64];
        let poll = std::pin::pin!(self.stream.read(&mut byte));
        match poll_once(poll) {
            None => false,
            Some(Ok(0)) | Some(Err(_)) => true,
            Some(Ok(n)) => {
                self.buf.extend_from_slice(&byte[..n]);
                false
            }
        }
    }

    /// Sends a request and reads its reply. The connection is marked busy
    /// meanwhile: if the call is dropped halfway (a caller's timeout), a
    /// reply is still owed on it, and it must not serve another request.
    async fn request(&mut self, request: &[u8]) -> Result<Reply, ClientError> {
        self.busy = true;
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(request))
            .await
            .unwrap_or_else(|_| Err(timed_out()));
        self.busy = result.is_err();
        result
    }

    async fn exchange(&mut self, request: &[u8]) -> Result<Reply, ClientError> {
        self.stream
            .write_all(request)
            .await
            .map_err(ClientError::Io)?;
        loop {
            match decode::decode(&mut self.buf) {
                Ok(Some(reply)) => return Ok(reply),
                Ok(None) => {}
                Err(e) => return Err(ClientError::Protocol(e.0)),
            }
            self.buf.reserve(4096);
            let n = self
                .stream
                .read_buf(&mut self.buf)
                .await
                .map_err(ClientError::Io)?;
            if n == 0 {
                return Err(ClientError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        }
    }
}

fn timed_out() -> ClientError {
    ClientError::Io(std::io::ErrorKind::TimedOut.into())
}

/// Polls a future once, without waiting.
fn poll_once<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.poll(&mut cx) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::resp::RequestParser;

    /// A node that answers `HELLO` and `RAFT SERVER LIST`, and `GET key`
    /// with `:1` for `a` (slowly) and `:2` for anything else, in order.
    async fn fake_node(mut stream: tokio::io::DuplexStream) {
        let (mut parser, mut buf) = (RequestParser::default(), BytesMut::new());
        while matches!(stream.read_buf(&mut buf).await, Ok(n) if n > 0) {
            while let Ok(Some(cmd)) = parser.next(&mut buf) {
                let reply: &[u8] = match (&cmd[0][..], cmd.get(1).map(|a| &a[..])) {
                    (b"HELLO", _) => b"+OK\r\n",
                    (b"RAFT", _) => b"*0\r\n",
                    (_, Some(b"a")) => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        b":1\r\n"
                    }
                    _ => b":2\r\n",
                };
                if stream.write_all(reply).await.is_err() {
                    return;
                }
            }
        }
    }

    #[tokio::test]
    async fn a_call_cut_off_halfway_leaves_no_reply_behind() {
        let dialer: LocalDialer = Arc::new(|| {
            let (ours, theirs) = tokio::io::duplex(4096);
            tokio::spawn(fake_node(theirs));
            Box::new(ours)
        });
        let mut client = Client::builder()
            .local("node".into(), dialer)
            .connect("node")
            .await
            .unwrap();
        let cut = tokio::time::timeout(Duration::from_millis(50), client.call(&["GET", "a"]));
        assert!(cut.await.is_err(), "the slow reply came early");
        // The reply to `GET a` is still owed on that connection: the next
        // call must not read it as its own.
        assert_eq!(client.call(&["GET", "b"]).await.unwrap(), Reply::Integer(2));
        assert!(client.call::<&str>(&[]).await.is_err());
    }

    #[test]
    fn redirects_are_read_like_cluster_clients_do() {
        assert_eq!(
            Redirect::parse("MOVED 0 127.0.0.1:7001"),
            Some(Redirect::To("127.0.0.1:7001".into()))
        );
        assert_eq!(
            Redirect::parse("TRY 10.0.0.2:11001"),
            Some(Redirect::To("10.0.0.2:11001".into()))
        );
        assert_eq!(
            Redirect::parse("CLUSTERDOWN node is not the leader"),
            Some(Redirect::Wait)
        );
        assert_eq!(
            Redirect::parse("SHUTDOWN node stopped while the command was under way"),
            None
        );
        assert_eq!(Redirect::parse("ERR wrong number of arguments"), None);
    }

    #[test]
    fn members_are_read_from_server_list_rows() {
        let row = Reply::Array(vec![
            Reply::bulk("id"),
            Reply::bulk("2"),
            Reply::bulk("address"),
            Reply::bulk("127.0.0.1:11002"),
        ]);
        assert_eq!(member_address(row), Some("127.0.0.1:11002".into()));
        assert_eq!(member_address(Reply::Integer(1)), None);
    }

    #[test]
    fn requests_are_arrays_of_bulk_strings() {
        assert_eq!(
            &encode_request(&["SET", "k", ""])[..],
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
        );
    }
}
