//! The proposer: the one task that turns waiting writes into log entries.
//!
//! Writes from every connection queue here. Whenever an entry may go out
//! (see [`run`]), the proposer drains everything that is waiting into one
//! entry, so a single fsync and a single replication round cover hundreds
//! of commands: throughput grows with the number of clients instead of
//! being capped at one command per fsync. The leader stamps each
//! entry with its clock and a fresh random seed, which is where the
//! machine's deterministic time and randomness come from.

use super::{Command, Raft, Redirect, TypeConfig};
use crate::command::Reply;
use crate::metrics::ProposalMetrics;
use crate::tasks::Tasks;
use bytes::{Bytes, BytesMut};
use openraft::raft::responder::Responder;
use openraft::raft::ClientWriteResult;
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// The payload of one log entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Batch {
    /// The leader's clock when it made the entry, in Unix nanoseconds.
    pub stamp: u64,
    /// The seed of the machine's random generator for this entry.
    pub seed: u64,
    /// The commands, applied in this order.
    pub commands: SharedCommands,
}

/// How openraft's logs show an entry's payload: its size, not its data.
impl std::fmt::Display for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} commands at {}", self.commands.len(), self.stamp)
    }
}

/// The commands of a batch, shared rather than copied when the entry is:
/// the leader hands a clone of each new entry to every follower's
/// replication, and a clone must not allocate per command. On disk and on
/// the wire it is exactly a `Vec<Command>`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedCommands(Arc<Vec<Command>>);

impl From<Vec<Command>> for SharedCommands {
    fn from(commands: Vec<Command>) -> Self {
        SharedCommands(Arc::new(commands))
    }
}

impl std::ops::Deref for SharedCommands {
    type Target = [Command];

    fn deref(&self) -> &[Command] {
        &self.0
    }
}

impl Serialize for SharedCommands {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedCommands {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<Command>::deserialize(deserializer).map(SharedCommands::from)
    }
}

/// Writes of one connection, proposed together: commands it parsed in a
/// row, in order. They go into one entry, so that a pipeline
/// costs the proposer one message and one reply, not one per command.
pub struct Proposal {
    /// The commands, each with its upper-case name first.
    pub commands: Vec<Command>,
    /// Where their replies go once applied: one per command, in order.
    pub replies: oneshot::Sender<Vec<Reply>>,
}

/// Most commands in one entry, unless one proposal alone has more.
const MAX_BATCH_COMMANDS: usize = 4096;
/// Most proposals queued for the proposer. A connection proposes once per
/// run of writes and waits for their replies before it reads more, so this
/// is reached only with thousands of connections writing at once; they
/// then wait their turn to queue.
const MAX_QUEUED: usize = 4096;

/// A handle that queues writes for the proposer task.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Proposal>,
}

impl Proposer {
    /// Most bytes of commands (as [`Proposer::size`] counts them) in one
    /// entry, so that an entry stays a sane size. A proposal is taken
    /// whole, so connections propose as soon as their writes reach it: a
    /// proposal, and so an entry, is at most this and one request more.
    pub const MAX_BYTES: usize = 16 << 20;

    /// The size of `command` as the limits count it: its arguments and a
    /// length each.
    pub fn size(command: &Command) -> usize {
        command.iter().map(|a| a.len() + 8).sum()
    }

    /// Starts the proposer task for `raft`, one of the node's `tasks`,
    /// counting in `metrics`.
    pub fn start(
        raft: Raft,
        redirect: Redirect,
        metrics: ProposalMetrics,
        tasks: &Tasks,
    ) -> Proposer {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        tasks.spawn(run(raft, redirect, metrics, rx));
        Proposer { tx }
    }

    /// A proposer whose proposals arrive at the receiver, for tests that
    /// play the log.
    #[cfg(test)]
    pub fn detached() -> (Proposer, mpsc::Receiver<Proposal>) {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        (Proposer { tx }, rx)
    }

    /// Queues writes that go into the log together, in this order; the
    /// receiver yields their replies, one per command in the same order.
    pub async fn propose(&self, mut commands: Vec<Command>) -> oneshot::Receiver<Vec<Reply>> {
        compact(&mut commands);
        let (replies, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(p)) = self.tx.send(Proposal { commands, replies }).await {
            let _ = p
                .replies
                .send(vec![super::errors::stopping(); p.commands.len()]);
        }
        rx
    }
}

/// Moves the arguments of a proposal's writes into one allocation of their
/// own. The request parser hands out slices of the connection's read
/// buffer, and the log keeps its newest entries in memory, so an entry
/// would keep the buffers of every connection it took writes from alive,
/// framing and the rest of their pipelines included. One allocation per
/// proposal, not per argument: each is a `malloc` now and a `free` when the
/// entry leaves memory, on the thread that serves the clients. (Machines
/// never keep these bytes: [`crate::FromArg`] copies.)
fn compact(commands: &mut [Command]) {
    let size = commands.iter().flatten().map(Bytes::len).sum();
    let mut all = BytesMut::with_capacity(size);
    commands
        .iter()
        .flatten()
        .for_each(|arg| all.extend_from_slice(arg));
    let mut all = all.freeze();
    for arg in commands.iter_mut().flatten() {
        *arg = all.split_to(arg.len());
    }
}

/// How many entries may be on their way through Raft at once. While they
/// are, new writes wait in the queue and go out together in the next
/// entry, so this shapes batches: enough to keep the log writer and the
/// followers busy, few enough that each entry carries many writes.
const MAX_IN_FLIGHT: usize = 4;

/// The proposer task.
///
/// It drains everything waiting into one entry and hands it to Raft's core
/// with a [`Deliver`] that replies to each write once the entry is applied.
/// Submitting is ordered and cheap (one message into the core, which
/// appends in the background: openraft 0.10 persists the leader's log in
/// parallel with replication); at most [`MAX_IN_FLIGHT`] entries are under
/// way at once, so under load each entry carries every write that arrived
/// while the previous ones committed (group commit), and when idle a write
/// goes out at once.
async fn run(
    raft: Raft,
    redirect: Redirect,
    metrics: ProposalMetrics,
    mut rx: mpsc::Receiver<Proposal>,
) {
    let mut stamps = Stamps::new();
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // A proposal that did not fit the last entry: the first of the next.
    let mut held = None;
    loop {
        let first = match held.take() {
            Some(first) => first,
            None => match rx.recv().await {
                Some(first) => first,
                None => return,
            },
        };
        // Wait for a slot before draining, so that the writes arriving
        // meanwhile join this entry.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (commands, waiting) = drain(first, &mut rx, &mut held);
        let count = commands.len() as u64;
        metrics.commands_per_entry.observe(count as f64);
        let batch = stamps.batch(commands);
        // Shared with the responder, so that a write the core never took
        // is told so here (it did not run), while one the core took and
        // dropped is told that its outcome is unknown (see `Waiting`).
        let waiting = Arc::new(Mutex::new(Some(waiting)));
        let taken = waiting.clone();
        let counted = metrics.clone();
        let deliver = Deliver::new(move |result: ClientWriteResult<TypeConfig>| {
            drop(slot);
            match &result {
                Ok(_) => counted.committed.inc_by(count),
                Err(_) => counted.failed.inc_by(count),
            };
            if let Some(waiting) = take(&taken) {
                waiting.deliver(
                    result
                        .map(|r| r.data)
                        .map_err(|e| redirect.refused_write(&e)),
                );
            }
        });
        if let Err(fatal) = raft.client_write_ff(batch, Some(deliver)).await {
            metrics.failed.inc_by(count);
            if let Some(waiting) = take(&waiting) {
                waiting.deliver(Err(super::errors::fatal_reply(&fatal)));
            }
            return;
        }
    }
}

fn take(waiting: &Mutex<Option<Waiting>>) -> Option<Waiting> {
    waiting.lock().expect("waiting lock").take()
}

/// `first` and the proposals waiting behind it, as many as fit an entry's
/// limits (`first` always does); the one that did not fit is left in
/// `held`.
fn drain(
    first: Proposal,
    rx: &mut mpsc::Receiver<Proposal>,
    held: &mut Option<Proposal>,
) -> (Vec<Command>, Waiting) {
    let mut waiting = Vec::with_capacity(rx.len() + 1);
    let mut bytes = commands_size(&first.commands);
    waiting.push((first.replies, first.commands.len()));
    let mut commands = first.commands;
    while let Ok(next) = rx.try_recv() {
        let size = commands_size(&next.commands);
        if commands.len() + next.commands.len() > MAX_BATCH_COMMANDS
            || bytes + size > Proposer::MAX_BYTES
        {
            *held = Some(next);
            break;
        }
        bytes += size;
        waiting.push((next.replies, next.commands.len()));
        commands.extend(next.commands);
    }
    (commands, Waiting(waiting))
}

/// How openraft hands back the outcome of an entry: it calls the function
/// once, from the state machine right after the entry is applied (or from
/// the core when the entry is refused). A function, not a channel, so that
/// replies reach the connections without a task in between.
pub struct Deliver<T>(Box<dyn FnOnce(T) + Send>);

impl<T> Deliver<T> {
    fn new(f: impl FnOnce(T) + Send + 'static) -> Self {
        Deliver(Box::new(f))
    }
}

impl<T: Send + 'static> Responder<TypeConfig, T> for Deliver<T> {
    fn on_complete(self, result: T) {
        (self.0)(result)
    }
}

/// The proposals of one entry, waiting for their replies in the entry's
/// order, each with its number of commands. Dropped before it delivers
/// (Raft stopped with the entry under way), it tells each write that its
/// outcome is unknown.
struct Waiting(Vec<(oneshot::Sender<Vec<Reply>>, usize)>);

impl Waiting {
    /// Hands each proposal its commands' replies, or every command the one
    /// reply that the entry got instead.
    fn deliver(mut self, replies: Result<Vec<Reply>, Reply>) {
        let waiting = std::mem::take(&mut self.0);
        match replies {
            Ok(replies) => {
                let mut replies = replies.into_iter();
                for (tx, count) in waiting {
                    let mine = (0..count).map(|_| replies.next().unwrap_or(Reply::Null));
                    let _ = tx.send(mine.collect());
                }
            }
            Err(reply) => {
                for (tx, count) in waiting {
                    let _ = tx.send(vec![reply.clone(); count]);
                }
            }
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        for (tx, count) in self.0.drain(..) {
            let _ = tx.send(vec![super::errors::stopped_midway(); count]);
        }
    }
}

/// The leader's stamps: its clock, kept strictly increasing, and a fresh
/// random seed per entry.
struct Stamps {
    seeds: Pcg64,
    last: u64,
}

impl Stamps {
    fn new() -> Stamps {
        Stamps {
            seeds: Pcg64::from_os_rng(),
            last: 0,
        }
    }

    fn batch(&mut self, commands: Vec<Command>) -> Batch {
        self.last = wall_clock_nanos().max(self.last + 1);
        Batch {
            stamp: self.last,
            seed: self.seeds.next_u64(),
            commands: commands.into(),
        }
    }
}

fn commands_size(commands: &[Command]) -> usize {
    commands.iter().map(Proposer::size).sum()
}

fn wall_clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_keeps_none_of_the_read_buffer() {
        let buffer = Bytes::from_static(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n");
        let args = vec![
            buffer.slice(8..11),
            buffer.slice(17..18),
            buffer.slice(24..29),
        ];
        let within = |arg: &Bytes| buffer.as_ptr_range().contains(&arg.as_ptr());
        assert!(args.iter().all(within));
        let mut compacted = vec![args.clone(), args.clone()];
        compact(&mut compacted);
        assert_eq!(compacted, [args.clone(), args]);
        assert!(
            !compacted.iter().flatten().any(within),
            "the arguments have an allocation of their own"
        );
    }
    use bytes::Bytes;

    fn commands() -> Vec<Command> {
        vec![
            vec![Bytes::from_static(b"SET"), Bytes::from_static(b"k")],
            vec![Bytes::from_static(b"TICKET")],
        ]
    }

    #[test]
    fn shared_commands_keep_the_format_of_a_vec() {
        let shared = SharedCommands::from(commands());
        let bytes = crate::codec::encode(&shared).unwrap();
        assert_eq!(bytes, crate::codec::encode(&commands()).unwrap());
        let back: SharedCommands = crate::codec::decode(&bytes).unwrap();
        assert_eq!(back, shared);
        assert_eq!(back.len(), 2);
    }

    #[tokio::test]
    async fn a_proposal_that_does_not_fit_an_entry_starts_the_next() {
        let (proposer, mut rx) = Proposer::detached();
        let big = || vec![vec![Bytes::from(vec![0; Proposer::MAX_BYTES / 2])]];
        let mut replies = Vec::new();
        for commands in [commands(), big(), big(), commands()] {
            replies.push(proposer.propose(commands).await);
        }
        let mut held = None;
        let first = rx.recv().await.unwrap();
        let (entry, waiting) = drain(first, &mut rx, &mut held);
        assert_eq!((entry.len(), waiting.0.len()), (3, 2));
        let next = held.take().expect("the second big proposal waits");
        let (entry, waiting) = drain(next, &mut rx, &mut held);
        assert_eq!((entry.len(), waiting.0.len()), (3, 2));
        assert!(held.is_none());
    }

    #[test]
    fn stamps_strictly_increase() {
        let mut stamps = Stamps::new();
        let first = stamps.batch(commands());
        let second = stamps.batch(Vec::new());
        assert!(second.stamp > first.stamp);
        assert_eq!(first.commands.len(), 2);
    }
}
