//! The state machine: the user's struct and its clock, applied from the log
//! in order on every node.

use super::{Command, Entry, LogId, Node, NodeId, StorageResult, TypeConfig};
use crate::codec;
use crate::command::{Args, Builtin, CommandTable, Commands, Reply, Route};
use crate::machine::{Clock, Ctx};
use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, RaftSnapshotBuilder, StorageError, StorageIOError,
    StoredMembership,
};
use serde::Serialize;
use std::io::Cursor;
use std::sync::{Arc, Mutex, RwLock};

/// The applied state, shared between the state machine (which writes it
/// while applying) and the node's readers.
pub struct Applied<M> {
    /// The user's state.
    pub machine: M,
    /// The machine's time and random generator.
    pub clock: Clock,
    last_applied: Option<LogId>,
    membership: StoredMembership<NodeId, Node>,
}

impl<M: Default> Default for Applied<M> {
    fn default() -> Self {
        Applied {
            machine: M::default(),
            clock: Clock::default(),
            last_applied: None,
            membership: StoredMembership::default(),
        }
    }
}

impl<M: Commands> Applied<M> {
    /// Runs one replicated command and returns its reply.
    fn apply_command(&mut self, table: &CommandTable, command: &Command) -> Reply {
        let Some(name) = command.first() else {
            return Reply::Null;
        };
        match table.lookup(name) {
            Some(Route::Builtin(Builtin::Barrier)) => Reply::ok(),
            Some(Route::User(index)) => {
                let mut ctx = Ctx::for_write(&mut self.clock);
                let reply = self
                    .machine
                    .write(index, &mut ctx, Args::new(&command[1..]));
                let now = ctx.time_nanos();
                self.clock.now = now;
                reply.unwrap_or_else(|e| Reply::Error(e.to_string()))
            }
            // A command that this binary does not know as a write: an older
            // or newer binary wrote it. Answer instead of crashing (uhaha
            // panics here), and leave the state alone on every node alike.
            _ => Reply::error(format!(
                "unknown write command '{}' in the log",
                String::from_utf8_lossy(name)
            )),
        }
    }
}

/// The snapshot's payload: the clock and the user's state.
#[derive(Serialize)]
struct SnapshotRef<'a, M> {
    clock: &'a Clock,
    machine: &'a M,
}

/// The last snapshot built or installed: its metadata and bytes.
type StoredSnapshot = (SnapshotMeta<NodeId, Node>, Vec<u8>);

/// The state machine store that openraft drives.
pub struct StateMachineStore<M> {
    state: Arc<RwLock<Applied<M>>>,
    table: Arc<CommandTable>,
    current: Arc<Mutex<Option<StoredSnapshot>>>,
}

impl<M: Commands> StateMachineStore<M> {
    /// A store over a fresh state.
    pub fn new(table: Arc<CommandTable>) -> Self {
        StateMachineStore {
            state: Arc::new(RwLock::new(Applied::default())),
            table,
            current: Arc::default(),
        }
    }

    /// The shared state, for readers.
    pub fn state(&self) -> Arc<RwLock<Applied<M>>> {
        self.state.clone()
    }

    fn build(&self) -> StorageResult<Snapshot<TypeConfig>> {
        let state = self.state.read().expect("state lock");
        let data = codec::encode(&SnapshotRef {
            clock: &state.clock,
            machine: &state.machine,
        })
        .map_err(|e| snapshot_error(ErrorVerb::Write, e))?;
        let last = state.last_applied;
        let id = match last {
            Some(l) => format!(
                "{}-{}-{}",
                l.leader_id.term,
                l.index,
                state.clock.now / 1_000_000
            ),
            None => format!("0-0-{}", state.clock.now / 1_000_000),
        };
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: state.membership.clone(),
            snapshot_id: id,
        };
        drop(state);
        *self.current.lock().expect("snapshot lock") = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

fn snapshot_error(verb: ErrorVerb, e: impl ToString) -> StorageError<NodeId> {
    StorageError::IO {
        source: StorageIOError::new(
            ErrorSubject::Snapshot(None),
            verb,
            openraft::AnyError::error(e.to_string()),
        ),
    }
}

impl<M: Commands> Clone for StateMachineStore<M> {
    fn clone(&self) -> Self {
        StateMachineStore {
            state: self.state.clone(),
            table: self.table.clone(),
            current: self.current.clone(),
        }
    }
}

impl<M: Commands> RaftSnapshotBuilder<TypeConfig> for StateMachineStore<M> {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        self.build()
    }
}

impl<M: Commands> RaftStateMachine<TypeConfig> for StateMachineStore<M> {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId>, StoredMembership<NodeId, Node>)> {
        let state = self.state.read().expect("state lock");
        Ok((state.last_applied, state.membership.clone()))
    }

    /// Applies entries in order, one reply list per entry (blank and
    /// membership entries included, as openraft requires).
    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<Vec<Reply>>>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut state = self.state.write().expect("state lock");
        let mut replies = Vec::new();
        for entry in entries {
            state.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => replies.push(Vec::new()),
                EntryPayload::Normal(batch) => {
                    state.clock.advance(batch.stamp, batch.seed);
                    let table = &self.table;
                    let out = batch
                        .commands
                        .iter()
                        .map(|c| state.apply_command(table, c))
                        .collect();
                    replies.push(out);
                }
                EntryPayload::Membership(m) => {
                    state.membership = StoredMembership::new(Some(entry.log_id), m);
                    replies.push(Vec::new());
                }
            }
        }
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, Node>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let data = snapshot.into_inner();
        let (clock, machine): (Clock, M) =
            codec::decode::<(Clock, M)>(&data).map_err(|e| snapshot_error(ErrorVerb::Read, e))?;
        let mut state = self.state.write().expect("state lock");
        *state = Applied {
            machine,
            clock,
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        drop(state);
        *self.current.lock().expect("snapshot lock") = Some((meta.clone(), data));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let current = self.current.lock().expect("snapshot lock").clone();
        Ok(current.map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}
