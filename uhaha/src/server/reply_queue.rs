//! A connection's replies, in request order. Replies known at once are
//! encoded as they come; writes are gathered and proposed together, one
//! message to the proposer for the writes a connection parsed in a row
//! (a pipeline of sixteen `SET`s costs one proposal, one reply channel and
//! one wake-up, not sixteen), and their replies are encoded in their place
//! once the log has applied them. A proposal ends where a later command
//! must come after the writes: a read, a protocol switch, a command that
//! acts on the cluster, user code that may wait on them, the end of what
//! was read.

use crate::command::{Protocol, Reply};
use crate::metrics::{Metrics, Tracked};
use crate::raft::{Command, Proposer};
use crate::server::observers::{observed_args, Observed, Observers};
use crate::server::session::Session;
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

/// Replies in request order: some known at once, some still waiting for
/// the log; and whether a read barrier has passed since the connection last
/// received bytes.
pub struct ReplyQueue {
    protocol: Protocol,
    pending: VecDeque<(Pending, Option<Track>)>,
    /// Writes queued since the last proposal, in order: proposed together
    /// as soon as a reply must be waited for.
    unproposed: Vec<Command>,
    /// Their size, as the proposer counts it.
    unproposed_bytes: usize,
    /// The proposals made and not yet replied to in full, oldest first.
    proposed: VecDeque<Proposed>,
    proposer: Proposer,
    out: BytesMut,
    barrier_passed: bool,
    /// The command whose reply is queued next, to count in `metrics` and
    /// show the observer.
    tracked: Option<Track>,
    /// When the last bytes came from the socket: the arrival of the
    /// commands they carried.
    arrived: Instant,
    /// Replies encoded since the last flush, counted in `metrics` once
    /// written (with one clock reading for all of them).
    encoded: Vec<Replied>,
    /// Where replies are counted; none for a queue of its own (tests).
    metrics: Option<Arc<Metrics>>,
    /// Who observes this connection's commands, and the connection.
    observed: Option<(Arc<Observers>, SocketAddr, u64)>,
}

/// A command whose reply is counted: where and when, and its arguments
/// when an observer sees it.
struct Track {
    tracked: Tracked,
    args: Option<Vec<Bytes>>,
}

/// A tracked command's reply, encoded: whether it was an error, and for an
/// observed command its arguments and the reply itself.
struct Replied {
    tracked: Tracked,
    error: bool,
    observed: Option<(Vec<Bytes>, Reply)>,
}

enum Pending {
    Ready(Reply),
    /// A write: its reply is the next one of the oldest proposal.
    Written,
}

/// A proposal of a connection's writes: waiting for its replies (and how
/// many it made), or replied to, with the replies not yet encoded.
enum Proposed {
    Waiting(oneshot::Receiver<Vec<Reply>>, usize),
    Replied(std::vec::IntoIter<Reply>),
}

/// Notes a tracked command's reply as encoded, to count once written (and
/// observe, with a copy of the reply, when it is observed).
fn encoded(encoded: &mut Vec<Replied>, track: Option<Track>, reply: &Reply) {
    if let Some(track) = track {
        encoded.push(Replied {
            tracked: track.tracked,
            error: reply.is_error(),
            observed: track.args.map(|args| (args, reply.clone())),
        });
    }
}

/// Flush replies before this many are pending or this many bytes are
/// encoded, so that a long pipeline cannot grow memory without bound.
const MAX_PENDING: usize = 4096;
const MAX_OUT: usize = 1 << 20;

/// A buffer's capacity past which a connection gives the memory back once
/// the buffer is empty: a burst (a long pipeline, a large value) grows a
/// connection's buffers, and many quiet connections must not each keep
/// their largest burst.
pub(crate) const KEEP_CAPACITY: usize = 64 << 10;

/// Replaces an empty buffer that a burst grew past [`KEEP_CAPACITY`] with
/// one of `capacity`.
pub(crate) fn shrink_if_empty(buf: &mut BytesMut, capacity: usize) {
    if buf.is_empty() && buf.capacity() > KEEP_CAPACITY {
        *buf = BytesMut::with_capacity(capacity);
    }
}

impl ReplyQueue {
    /// A queue that proposes its writes to `proposer`.
    fn new(proposer: Proposer) -> Self {
        ReplyQueue {
            protocol: Protocol::Resp2,
            pending: VecDeque::new(),
            unproposed: Vec::new(),
            unproposed_bytes: 0,
            proposed: VecDeque::new(),
            proposer,
            out: BytesMut::with_capacity(4096),
            barrier_passed: false,
            tracked: None,
            arrived: Instant::now(),
            encoded: Vec::new(),
            metrics: None,
            observed: None,
        }
    }

    /// A queue that proposes its writes to `proposer`, counts replies in
    /// `metrics` and shows the commands of `session`'s client to
    /// `observers`, if they observe.
    pub(crate) fn counted(
        proposer: Proposer,
        metrics: Arc<Metrics>,
        observers: &Arc<Observers>,
        session: &Session,
    ) -> Self {
        ReplyQueue {
            metrics: Some(metrics),
            observed: observers
                .enabled()
                .then(|| (observers.clone(), session.conn.addr(), session.id())),
            ..ReplyQueue::new(proposer)
        }
    }

    /// Counts the next reply queued as the reply of `cmd`, at position `at`
    /// of the command table, which arrived with the last bytes read.
    pub fn track(&mut self, at: usize, cmd: &[Bytes]) {
        if self.metrics.is_some() {
            self.tracked = Some(Track {
                tracked: (at, self.arrived),
                args: self.observed.as_ref().map(|_| observed_args(cmd)),
            });
        }
    }

    /// Counts no reply for the command last tracked: it has none (a
    /// hijacking command).
    pub fn untrack(&mut self) {
        self.tracked = None;
    }

    /// Whether a read barrier has passed since the connection last read
    /// from its socket, so that a read parsed now needs no barrier of its
    /// own.
    ///
    /// Why that is linearizable: every command parsed before the next read
    /// from the socket arrived before the last one returned, and the barrier
    /// was asked for after that (by the first read of this batch), so the
    /// barrier's round began after the command arrived: its read index
    /// covers every write acknowledged before the command was sent, and the
    /// leader was confirmed after that. Serving the command from state at
    /// least that new is exactly what a barrier of its own would give. A
    /// write acknowledged later is concurrent with the read, which may then
    /// see it or not. Read-your-writes is kept apart from this: a read still
    /// waits for the connection's own earlier writes ([`ReplyQueue::settle`]).
    pub fn barrier_passed(&self) -> bool {
        self.barrier_passed
    }

    /// Records that a read barrier asked for after the last read from the
    /// socket has passed.
    pub fn barrier_has_passed(&mut self) {
        self.barrier_passed = true;
    }

    /// Records that new bytes came from the socket: commands parsed from now
    /// on may have arrived after the last barrier began.
    pub(crate) fn received(&mut self) {
        self.barrier_passed = false;
        if self.metrics.is_some() {
            self.arrived = Instant::now();
        }
    }

    /// Queues a reply that is known now.
    pub fn ready(&mut self, reply: Reply) {
        let tracked = self.tracked.take();
        if self.pending.is_empty() {
            encoded(&mut self.encoded, tracked, &reply);
            reply.encode(self.protocol, &mut self.out);
        } else {
            self.pending.push_back((Pending::Ready(reply), tracked));
        }
    }

    /// Writes the replies queued from now on in `protocol`. The replies
    /// queued before are settled first, so that each is written in the
    /// protocol that was in force when its command came.
    pub async fn switch(&mut self, protocol: Protocol) {
        if protocol != self.protocol {
            self.settle().await;
            self.protocol = protocol;
        }
    }

    /// Queues a write for the log; its reply comes once it is applied.
    pub fn write(&mut self, command: Command) {
        let tracked = self.tracked.take();
        self.unproposed_bytes += Proposer::size(&command);
        self.unproposed.push(command);
        self.pending.push_back((Pending::Written, tracked));
    }

    /// Waits for every queued reply and encodes them in order.
    pub async fn settle(&mut self) {
        self.propose().await;
        while let Some((next, tracked)) = self.pending.pop_front() {
            let reply = match next {
                Pending::Ready(reply) => reply,
                Pending::Written => self.next_written().await,
            };
            encoded(&mut self.encoded, tracked, &reply);
            reply.encode(self.protocol, &mut self.out);
        }
    }

    /// Proposes the writes queued since the last proposal, as one. Called
    /// before anything that must come after them: a reply waited for, or
    /// code that may wait on what they do.
    pub(crate) async fn propose(&mut self) {
        if !self.unproposed.is_empty() {
            let count = self.unproposed.len();
            let commands = std::mem::take(&mut self.unproposed);
            self.unproposed_bytes = 0;
            let replies = self.proposer.propose(commands).await;
            self.proposed.push_back(Proposed::Waiting(replies, count));
        }
    }

    /// The reply of the oldest write not yet encoded.
    async fn next_written(&mut self) -> Reply {
        loop {
            let oldest = self
                .proposed
                .front_mut()
                .expect("every write queued is proposed before its reply is awaited");
            match oldest {
                Proposed::Waiting(replies, count) => {
                    let replies = replies
                        .await
                        .unwrap_or_else(|_| vec![crate::raft::stopped_midway(); *count]);
                    *oldest = Proposed::Replied(replies.into_iter());
                }
                Proposed::Replied(replies) => {
                    let next = replies.next();
                    if replies.len() == 0 {
                        self.proposed.pop_front();
                    }
                    if let Some(reply) = next {
                        return reply;
                    }
                }
            }
        }
    }

    /// Whether the queue holds enough to flush now: replies, or writes
    /// enough to fill an entry (a proposal is taken whole, so it must not
    /// outgrow one).
    pub(crate) fn full(&self) -> bool {
        self.pending.len() >= MAX_PENDING
            || self.out.len() >= MAX_OUT
            || self.unproposed_bytes >= Proposer::MAX_BYTES
    }

    /// Settles every reply and writes them out; returns how many bytes.
    async fn flush<W: AsyncWrite + Unpin>(&mut self, writer: &mut W) -> std::io::Result<usize> {
        self.settle().await;
        let written = self.out.len();
        if written > 0 {
            writer.write_all(&self.out).await?;
            self.out.clear();
            shrink_if_empty(&mut self.out, 4096);
        }
        if let Some(metrics) = self.metrics.as_ref().filter(|_| !self.encoded.is_empty()) {
            let now = Instant::now();
            for replied in self.encoded.drain(..) {
                metrics.replied(replied.tracked, now, replied.error);
                if let (Some((observers, addr, conn)), Some((args, reply))) =
                    (&self.observed, replied.observed)
                {
                    observers.deliver(Observed {
                        args,
                        reply,
                        took: now.saturating_duration_since(replied.tracked.1),
                        addr: *addr,
                        conn: *conn,
                    });
                }
            }
        }
        Ok(written)
    }

    /// Flushes and counts the bytes in the node's statistics.
    pub(crate) async fn flush_counted<W: AsyncWrite + Unpin>(
        &mut self,
        writer: &mut W,
        session: &Session,
    ) -> std::io::Result<()> {
        let written = self.flush(writer).await?;
        session.client.wrote(written as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> (
        ReplyQueue,
        tokio::sync::mpsc::Receiver<crate::raft::Proposal>,
    ) {
        let (proposer, proposals) = Proposer::detached();
        (ReplyQueue::new(proposer), proposals)
    }

    fn command(name: &'static str) -> Command {
        vec![Bytes::from_static(name.as_bytes())]
    }

    #[tokio::test]
    async fn a_burst_of_replies_gives_its_memory_back_once_written() {
        let (mut queue, _proposals) = queue();
        for _ in 0..1000 {
            queue.ready(Reply::Bulk(vec![b'x'; 1000].into()));
        }
        assert!(queue.out.capacity() > KEEP_CAPACITY);
        let mut sink = Vec::new();
        assert_eq!(queue.flush(&mut sink).await.unwrap(), sink.len());
        assert!(
            queue.out.capacity() <= KEEP_CAPACITY,
            "{}",
            queue.out.capacity()
        );
        let mut partial = BytesMut::with_capacity(1 << 20);
        partial.extend_from_slice(b"*1\r\n");
        shrink_if_empty(&mut partial, 0);
        assert_eq!(
            partial.capacity(),
            1 << 20,
            "a buffer holding part of a request keeps it"
        );
    }

    #[tokio::test]
    async fn a_switch_keeps_earlier_replies_in_the_old_protocol() {
        let (mut queue, mut proposals) = queue();
        queue.write(command("A"));
        queue.ready(Reply::Null);
        let apply = tokio::spawn(async move {
            let proposal = proposals.recv().await.unwrap();
            proposal.replies.send(vec![Reply::Double(0.5)]).unwrap();
        });
        queue.switch(Protocol::Resp3).await;
        queue.ready(Reply::Null);
        queue.switch(Protocol::Resp3).await;
        queue.ready(Reply::Double(0.5));
        apply.await.unwrap();
        let mut out = Vec::new();
        queue.flush(&mut out).await.unwrap();
        assert_eq!(out, b"$3\r\n0.5\r\n$-1\r\n_\r\n,0.5\r\n");
    }

    #[test]
    fn writes_that_would_fill_an_entry_fill_the_queue() {
        let (mut queue, _proposals) = queue();
        let large = || vec![Bytes::from_static(b"SET"), Bytes::from(vec![0; 1 << 20])];
        while queue.unproposed_bytes + Proposer::size(&large()) < Proposer::MAX_BYTES {
            queue.write(large());
            assert!(!queue.full());
        }
        queue.write(large());
        assert!(queue.full(), "a proposal stays within an entry's size");
    }

    #[tokio::test]
    async fn the_writes_between_two_reads_are_one_proposal() {
        let (mut queue, mut proposals) = queue();
        queue.write(command("A"));
        queue.write(command("B"));
        queue.ready(Reply::Integer(1));
        queue.write(command("C"));
        let apply = tokio::spawn(async move {
            let first = proposals.recv().await.unwrap();
            assert_eq!(first.commands, [command("A"), command("B"), command("C")]);
            let replies = first.commands.iter().map(|c| Reply::Bulk(c[0].clone()));
            first.replies.send(replies.collect()).unwrap();
            let second = proposals.recv().await.unwrap();
            assert_eq!(second.commands, [command("D")]);
            drop(second);
        });
        queue.settle().await;
        queue.write(command("D"));
        let mut out = Vec::new();
        queue.flush(&mut out).await.unwrap();
        apply.await.unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("$1\r\nA\r\n$1\r\nB\r\n:1\r\n$1\r\nC\r\n-"),
            "replies in request order, a dropped proposal answered: {text}"
        );
        assert!(queue.proposed.is_empty());
    }
}
