//! The proposer: the one task that turns waiting writes into log entries.
//!
//! Writes from every connection queue here. Whenever Raft's core is ready
//! for the next entry (see [`run`]), the proposer drains everything that is
//! waiting into one entry, so a single fsync and a single replication round
//! cover hundreds of commands: throughput grows with the number of clients
//! instead of being capped at one command per fsync. The leader stamps each
//! entry with its clock and a fresh random seed, which is where the
//! machine's deterministic time and randomness come from.

use super::{Command, NodeId, Raft, Redirect, TypeConfig};
use crate::command::Reply;
use crate::tasks::Tasks;
use bytes::Bytes;
use openraft::error::{Fatal, RaftError};
use openraft::raft::responder::Responder;
use openraft::RaftTypeConfig;
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
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

/// A write waiting for its reply.
pub struct Proposal {
    /// The command, its upper-case name first.
    pub command: Command,
    /// Where its reply goes once applied.
    pub reply: oneshot::Sender<Reply>,
}

/// Most commands in one entry.
const MAX_BATCH_COMMANDS: usize = 4096;
/// Most argument bytes in one entry, so that an entry stays a sane size.
const MAX_BATCH_BYTES: usize = 16 << 20;

/// A handle that queues writes for the proposer task.
#[derive(Clone)]
pub struct Proposer {
    tx: mpsc::Sender<Proposal>,
}

impl Proposer {
    /// Starts the proposer task for `raft`, one of the node's `tasks`.
    pub fn start(raft: Raft, redirect: Redirect, tasks: &Tasks) -> Proposer {
        let (tx, rx) = mpsc::channel(MAX_BATCH_COMMANDS * 4);
        tasks.spawn(run(raft, redirect, rx, tasks.clone()));
        Proposer { tx }
    }

    /// Queues a write; the receiver yields its reply.
    pub async fn propose(&self, command: Command) -> oneshot::Receiver<Reply> {
        let command = compact(command);
        let (reply, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(p)) = self.tx.send(Proposal { command, reply }).await {
            let _ = p.reply.send(super::errors::stopping());
        }
        rx
    }
}

/// A write's arguments, each in an allocation of its own. The request
/// parser hands out slices of the connection's read buffer, so a machine
/// that keeps an argument (a stored value) would keep that whole buffer
/// alive, framing and the rest of the pipeline included, and only on the
/// leader: followers decode entries into fresh allocations. Measured: 200k
/// SETs of 100 bytes (`redis-benchmark -P 32 -c 20`, 3 nodes) left the
/// leader at 140 MB against 93 MB on each follower.
fn compact(command: Command) -> Command {
    command
        .into_iter()
        .map(|arg| Bytes::copy_from_slice(&arg))
        .collect()
}

/// How many entries may be on their way through Raft at once. More than
/// one lets the leader append the next entry while the previous one is
/// being replicated; the pacing in [`run`] keeps the number low anyway, so
/// this bounds memory more than it shapes batches.
const MAX_IN_FLIGHT: usize = 4;

/// The proposer task.
///
/// openraft 0.9 makes one log append (and one fsync) per client write and
/// its core waits for each append's flush before it takes the next
/// message. An entry submitted while the core is still flushing the
/// previous one would get an fsync of its own and carry only the few writes
/// that had arrived by then. So after submitting an entry the proposer
/// waits until the core has taken it (a no-op request queued behind it
/// returns once the append is flushed and replication has started), and
/// only then drains the queue: the next entry carries every write that
/// arrived during that fsync. Under load the leader fsyncs back to back,
/// each fsync covering everything that waited for it (group commit); when
/// idle, a write goes out at once.
async fn run(raft: Raft, redirect: Redirect, mut rx: mpsc::Receiver<Proposal>, tasks: Tasks) {
    let mut stamps = Stamps::new();
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for a slot before draining, so that the writes arriving
        // meanwhile join this entry.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (commands, waiting) = drain(first, &mut rx);
        let batch = stamps.batch(commands);
        // Submitting is ordered (one channel into Raft's core); waiting for
        // the commit is not, so it happens in its own task.
        let submitted = raft.client_write_ff(batch).await;
        let taken = submitted.is_ok();
        tasks.spawn(async move {
            let replies = committed(submitted, redirect).await;
            drop(slot);
            deliver(replies, waiting);
        });
        if taken {
            let _ = raft.with_raft_state(|_| ()).await;
        }
    }
}

/// `first` and every write waiting behind it, up to an entry's limits.
fn drain(
    first: Proposal,
    rx: &mut mpsc::Receiver<Proposal>,
) -> (Vec<Command>, Vec<oneshot::Sender<Reply>>) {
    // Sized once for what is queued: growing a vector of thousands of
    // commands step by step costs the allocator more than the commands.
    let capacity = (rx.len() + 1).min(MAX_BATCH_COMMANDS);
    let mut commands = Vec::with_capacity(capacity);
    let mut waiting = Vec::with_capacity(capacity);
    let mut bytes = command_size(&first.command);
    commands.push(first.command);
    waiting.push(first.reply);
    while commands.len() < MAX_BATCH_COMMANDS && bytes < MAX_BATCH_BYTES {
        let Ok(next) = rx.try_recv() else { break };
        bytes += command_size(&next.command);
        commands.push(next.command);
        waiting.push(next.reply);
    }
    (commands, waiting)
}

/// Where openraft sends the outcome of a submitted entry.
type CommitReceiver =
    <<TypeConfig as RaftTypeConfig>::Responder as Responder<TypeConfig>>::Receiver;

/// The replies of a submitted entry once it is committed and applied, or
/// the one reply that every write of the entry gets instead.
async fn committed(
    submitted: Result<CommitReceiver, Fatal<NodeId>>,
    redirect: Redirect,
) -> Result<Vec<Reply>, Reply> {
    match submitted {
        Err(fatal) => Err(redirect.write_error(&RaftError::Fatal(fatal))),
        Ok(rx) => match rx.await {
            Ok(Ok(response)) => Ok(response.data),
            Ok(Err(e)) => Err(redirect.write_error(&RaftError::APIError(e))),
            Err(_) => Err(super::errors::stopped_midway()),
        },
    }
}

/// Hands each write its reply, in the entry's order.
fn deliver(replies: Result<Vec<Reply>, Reply>, waiting: Vec<oneshot::Sender<Reply>>) {
    match replies {
        Ok(replies) => {
            let mut replies = replies.into_iter();
            for tx in waiting {
                let _ = tx.send(replies.next().unwrap_or(Reply::Null));
            }
        }
        Err(reply) => {
            for tx in waiting {
                let _ = tx.send(reply.clone());
            }
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

fn command_size(command: &Command) -> usize {
    command.iter().map(|a| a.len() + 8).sum()
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
        let compacted = compact(args.clone());
        assert_eq!(compacted, args);
        assert!(
            !compacted.iter().any(within),
            "each argument has its own allocation"
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

    #[test]
    fn stamps_strictly_increase() {
        let mut stamps = Stamps::new();
        let first = stamps.batch(commands());
        let second = stamps.batch(Vec::new());
        assert!(second.stamp > first.stamp);
        assert_eq!(first.commands.len(), 2);
    }
}
