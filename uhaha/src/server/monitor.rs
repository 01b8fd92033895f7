//! `MONITOR`: every command the node processes, streamed to the clients
//! that asked, one line each as Redis writes them:
//! `1700000000.123456 [0 127.0.0.1:50000] "set" "k" "v"`.
//!
//! Lines go through a bounded broadcast channel: a monitor that reads
//! slower than commands arrive loses the oldest lines (counted in `INFO`'s
//! `monitor_dropped_lines`), and command processing never waits for it.
//! Without monitors nothing is formatted.

use crate::command::Reply;
use crate::server::conn::Conn;
use crate::server::hijack::{Hijack, Hijacked};
use bytes::Bytes;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// Lines a monitor may fall behind before it loses the oldest.
const BACKLOG: usize = 4096;

/// The node's feed of processed commands.
pub struct Monitors {
    lines: broadcast::Sender<Bytes>,
    /// How many feeds are open. Every command asks, and the channel's own
    /// count takes a lock.
    watching: Arc<AtomicUsize>,
    dropped: AtomicU64,
}

impl Default for Monitors {
    fn default() -> Self {
        Monitors {
            lines: broadcast::channel(BACKLOG).0,
            watching: Arc::default(),
            dropped: AtomicU64::new(0),
        }
    }
}

/// A monitor's feed of lines, counted while open.
pub struct Feed {
    lines: broadcast::Receiver<Bytes>,
    watching: Arc<AtomicUsize>,
}

impl Feed {
    /// The next line; see [`broadcast::Receiver::recv`].
    pub async fn recv(&mut self) -> Result<Bytes, broadcast::error::RecvError> {
        self.lines.recv().await
    }

    /// The next line if one waits; see [`broadcast::Receiver::try_recv`].
    pub fn try_recv(&mut self) -> Result<Bytes, broadcast::error::TryRecvError> {
        self.lines.try_recv()
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.watching.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Monitors {
    /// Publishes a command received on `conn`, if anyone monitors.
    pub fn publish(&self, conn: &Conn, cmd: &[Bytes]) {
        if self.watching.load(Ordering::Relaxed) > 0 {
            let _ = self.lines.send(line(conn, cmd, SystemTime::now()));
        }
    }

    /// A new monitor's feed.
    pub fn subscribe(&self) -> Feed {
        self.watching.fetch_add(1, Ordering::Relaxed);
        Feed {
            lines: self.lines.subscribe(),
            watching: self.watching.clone(),
        }
    }

    /// Counts lines a slow monitor lost.
    pub fn dropped(&self, lines: u64) {
        self.dropped.fetch_add(lines, Ordering::Relaxed);
    }

    /// Lines lost by slow monitors since start.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// What a client that sent `MONITOR` becomes: its connection streams
    /// the feed, from the commands after `MONITOR`, until it leaves or
    /// sends `QUIT`.
    pub fn monitor(self: &Arc<Self>) -> Hijack {
        let feed = self.subscribe();
        let monitors = self.clone();
        Hijack::new(move |conn| async move {
            let _ = monitors.stream(conn, feed).await;
            None
        })
    }

    /// Writes the lines of `feed` to `conn`, those that waited together; a
    /// feed that fell behind is counted, never waited for. Ends when the
    /// client leaves, sends `QUIT` or breaks the protocol.
    async fn stream(&self, mut conn: Hijacked, mut feed: Feed) -> std::io::Result<()> {
        use broadcast::error::RecvError;
        loop {
            tokio::select! {
                line = feed.recv() => {
                    match line {
                        Ok(line) => conn.write_raw(&line),
                        Err(RecvError::Lagged(lost)) => self.dropped(lost),
                        Err(RecvError::Closed) => return Ok(()),
                    }
                    while let Ok(line) = feed.try_recv() {
                        conn.write_raw(&line);
                    }
                    conn.flush().await?;
                }
                cmd = conn.read_command() => match cmd? {
                    None => return Ok(()),
                    Some(cmd) if cmd[0].eq_ignore_ascii_case(b"QUIT") => {
                        return conn.send(&Reply::ok()).await;
                    }
                    Some(_) => {
                        let refused = Reply::error("only QUIT is allowed in MONITOR mode");
                        conn.send(&refused).await?;
                    }
                },
            }
        }
    }
}

/// Redis's monitor line for `cmd`, as a RESP status line. The secrets of
/// `AUTH` and `HELLO` are redacted, as Redis does.
fn line(conn: &Conn, cmd: &[Bytes], at: SystemTime) -> Bytes {
    let at = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut out = format!(
        "+{}.{:06} [0 {}]",
        at.as_secs(),
        at.subsec_micros(),
        conn.addr()
    );
    let secret = carries_secret(cmd);
    for (i, arg) in cmd.iter().enumerate() {
        out.push(' ');
        if secret && i > 0 {
            out.push_str("\"(redacted)\"");
        } else {
            quote(&mut out, arg);
        }
    }
    out.push_str("\r\n");
    Bytes::from(out)
}

/// Whether `cmd`'s arguments may carry the node's secret (`AUTH`, `HELLO`),
/// so that what shows commands to others redacts them.
pub fn carries_secret(cmd: &[Bytes]) -> bool {
    cmd[0].eq_ignore_ascii_case(b"AUTH") || cmd[0].eq_ignore_ascii_case(b"HELLO")
}

/// Appends `arg` in double quotes with Redis's escapes (`sdscatrepr`).
fn quote(out: &mut String, arg: &[u8]) {
    out.push('"');
    for &b in arg {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_look_like_redis() {
        let conn = Conn::new(7, "127.0.0.1:5000".parse().unwrap(), Default::default());
        let at = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let cmd = [
            Bytes::from("set"),
            Bytes::from("k"),
            Bytes::from("a\"b\n\x01"),
        ];
        assert_eq!(
            line(&conn, &cmd, at),
            "+1700000000.123456 [0 127.0.0.1:5000] \"set\" \"k\" \"a\\\"b\\n\\x01\"\r\n"
        );
        let auth = [Bytes::from("AUTH"), Bytes::from("secret")];
        assert!(!String::from_utf8_lossy(&line(&conn, &auth, at)).contains("secret"));
    }

    #[tokio::test]
    async fn a_slow_monitor_loses_lines_and_never_blocks() {
        let monitors = Monitors::default();
        let conn = Conn::new(1, "127.0.0.1:1".parse().unwrap(), Default::default());
        monitors.publish(&conn, &[Bytes::from("PING")]);
        let mut feed = monitors.subscribe();
        for _ in 0..BACKLOG + 10 {
            monitors.publish(&conn, &[Bytes::from("PING")]);
        }
        assert!(matches!(
            feed.recv().await,
            Err(broadcast::error::RecvError::Lagged(10))
        ));
        assert!(feed.recv().await.is_ok());
        drop(feed);
        assert_eq!(monitors.watching.load(Ordering::Relaxed), 0);
    }
}
