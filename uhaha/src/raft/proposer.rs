//! The proposer: the one task that turns waiting writes into log entries.
//!
//! Writes from every connection queue here. Whenever the previous entry has
//! been committed, the proposer drains everything that is waiting into one
//! entry, so a single fsync and a single replication round cover hundreds of
//! commands: throughput grows with the number of clients instead of being
//! capped at one command per fsync. The leader stamps each entry with its
//! clock and a fresh random seed, which is where the machine's deterministic
//! time and randomness come from.

use super::{Command, Raft, Redirect};
use crate::command::Reply;
use openraft::error::RaftError;
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
    pub commands: Vec<Command>,
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
    /// Starts the proposer task for `raft`.
    pub fn start(raft: Raft, redirect: Redirect) -> Proposer {
        let (tx, rx) = mpsc::channel(MAX_BATCH_COMMANDS * 4);
        tokio::spawn(run(raft, redirect, rx));
        Proposer { tx }
    }

    /// Queues a write; the receiver yields its reply.
    pub async fn propose(&self, command: Command) -> oneshot::Receiver<Reply> {
        let (reply, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(p)) = self.tx.send(Proposal { command, reply }).await {
            let _ = p
                .reply
                .send(Reply::Error("CLUSTERDOWN node is shutting down".into()));
        }
        rx
    }
}

/// How many entries may be on their way through Raft at once. More than
/// one lets the leader replicate the next entry while the previous one
/// commits; a few suffice, since each entry carries every write that was
/// waiting.
const MAX_IN_FLIGHT: usize = 4;

async fn run(raft: Raft, redirect: Redirect, mut rx: mpsc::Receiver<Proposal>) {
    let mut seeds = Pcg64::from_os_rng();
    let mut last_stamp = 0u64;
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    while let Some(first) = rx.recv().await {
        // Wait for a slot before draining, so that the writes arriving
        // meanwhile join this entry.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let mut bytes = command_size(&first.command);
        let mut commands = vec![first.command];
        let mut waiting = vec![first.reply];
        while commands.len() < MAX_BATCH_COMMANDS && bytes < MAX_BATCH_BYTES {
            let Ok(next) = rx.try_recv() else { break };
            bytes += command_size(&next.command);
            commands.push(next.command);
            waiting.push(next.reply);
        }
        last_stamp = wall_clock_nanos().max(last_stamp + 1);
        let batch = Batch {
            stamp: last_stamp,
            seed: seeds.next_u64(),
            commands,
        };
        // Submitting is ordered (one channel into Raft's core); waiting for
        // the commit is not, so it happens in its own task.
        let result = raft.client_write_ff(batch).await;
        tokio::spawn(async move {
            let replies = match result {
                Err(fatal) => Err(redirect.write_error(&RaftError::Fatal(fatal))),
                Ok(rx) => match rx.await {
                    Ok(Ok(response)) => Ok(response.data),
                    Ok(Err(e)) => Err(redirect.write_error(&RaftError::APIError(e))),
                    Err(_) => Err(Reply::Error("CLUSTERDOWN node is shutting down".into())),
                },
            };
            drop(slot);
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
        });
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
