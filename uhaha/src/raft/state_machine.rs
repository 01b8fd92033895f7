//! The state machine: the user's struct and its clock, applied from the log
//! in order on every node, and saved to snapshot files.

use super::{
    Command, Entry, LogId, Snapshot, SnapshotData, SnapshotMeta, StoredMembership, TypeConfig,
};
use crate::command::{Args, Builtin, CommandTable, Commands, Reply, Route};
use crate::machine::{command_reply, contain, contain_snapshot, Clock, Ctx};
use crate::metrics::SnapshotMetrics;
use crate::pubsub::Hub;
use crate::raft::snapshot_file::{self, Counted, Header, Origin, SnapshotDir};
use crate::raft::snapshot_policy::Progress;
use futures_util::future::BoxFuture;
use futures_util::{FutureExt, Stream, StreamExt};
use openraft::storage::{EntryResponder, RaftStateMachine};
use openraft::{EntryPayload, RaftSnapshotBuilder};
use std::io::{self, BufRead};
use std::sync::Arc;
use tokio::sync::{watch, RwLock};

/// The name of the internal write that runs the machine's `#[tick]` method.
/// Clients cannot send it: it is not in the command table.
pub const TICK: &[u8] = b"TICK";

/// The applied state, shared between the state machine (which writes it
/// while applying) and the node's readers.
pub struct Applied<M> {
    /// The user's state.
    pub machine: M,
    /// The machine's time and random generator.
    pub clock: Clock,
    last_applied: Option<LogId>,
    membership: StoredMembership,
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
    /// Runs one replicated command and returns its reply; what it publishes
    /// goes to `pubsub`'s subscribers. User code runs
    /// contained (see [`crate::machine::contain`]): a panic is the
    /// command's error reply, the same on every node.
    fn apply_command(&mut self, table: &CommandTable, pubsub: &Hub, command: &Command) -> Reply {
        let Some(name) = command.first() else {
            return Reply::Null;
        };
        if name.as_ref() == TICK {
            let mut ctx = Ctx::for_write(&mut self.clock, pubsub);
            let ticked = contain(|| self.machine.tick(&mut ctx));
            self.clock.now = ctx.time_nanos();
            return match ticked {
                Ok(()) => Reply::ok(),
                Err(panicked) => panicked.reply_for("#[tick]"),
            };
        }
        match table.lookup(name) {
            Some(Route::Builtin(Builtin::Barrier)) => Reply::ok(),
            Some(Route::User(index)) => {
                let mut ctx = Ctx::for_write(&mut self.clock, pubsub);
                let args = Args::new(&command[1..]);
                let name = M::COMMANDS[index].name;
                let reply = command_reply(name, || self.machine.write(index, &mut ctx, args));
                self.clock.now = ctx.time_nanos();
                // It ran on every node, leader included: nowhere to send it.
                if reply.is_not_leader() {
                    return Reply::error("not leader");
                }
                reply
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

    /// A state read from a snapshot file: ours, or Go uhaha's (whose
    /// payload the machine reads with `Machine::load_go`).
    fn from_snapshot(from: impl BufRead) -> Result<Loaded<M>, String> {
        let opened = snapshot_file::open(from)?;
        let id = opened.header.id();
        let mut payload = Counted::new(opened.payload);
        let machine = contain_snapshot(|| match opened.origin {
            Origin::Uhaha => M::load(&mut payload),
            Origin::Go => M::load_go(&mut payload),
        })
        .map_err(|e| format!("restore the machine: {e}"))?;
        // Reading to the end checks the compressed stream's checksum, also
        // behind a machine that did not read all it saved.
        io::copy(&mut payload, &mut io::sink()).map_err(|e| format!("snapshot payload: {e}"))?;
        let applied = Applied {
            machine,
            clock: opened.header.clock,
            last_applied: opened.header.meta.last_log_id,
            membership: opened.header.meta.last_membership,
        };
        Ok(Loaded {
            applied,
            id,
            size: payload.count,
        })
    }
}

/// A state read from another cluster's snapshot file, to restore.
pub struct Backup<M>(Applied<M>);

/// A state loaded from a snapshot file.
struct Loaded<M> {
    applied: Applied<M>,
    /// The snapshot's id.
    id: String,
    /// The size of the machine's bytes, uncompressed.
    size: u64,
}

/// A node's state machine, typed by its machine: what the node reads
/// and restores. openraft drives it as a [`StateMachine`].
pub struct StateMachineStore<M> {
    state: Arc<RwLock<Applied<M>>>,
    table: Arc<CommandTable>,
    snapshots: Arc<SnapshotDir>,
    /// What was applied since the last snapshot began; see
    /// [`super::snapshot_policy`].
    progress: Arc<Progress>,
    /// The error of the newest snapshot build that failed, for whoever
    /// asked for the snapshot; see [`StateMachineStore::build_failures`].
    build_failures: Arc<watch::Sender<Option<String>>>,
    metrics: SnapshotMetrics,
    /// Where writes publish messages.
    pubsub: Arc<Hub>,
}

impl<M> Clone for StateMachineStore<M> {
    fn clone(&self) -> Self {
        StateMachineStore {
            state: self.state.clone(),
            table: self.table.clone(),
            snapshots: self.snapshots.clone(),
            progress: self.progress.clone(),
            build_failures: self.build_failures.clone(),
            metrics: self.metrics.clone(),
            pubsub: self.pubsub.clone(),
        }
    }
}

impl<M: Commands> StateMachineStore<M> {
    /// A store over the newest snapshot in `snapshots`, or a fresh state,
    /// counting snapshots in `metrics`; writes publish to `pubsub`.
    pub fn open(
        table: Arc<CommandTable>,
        snapshots: Arc<SnapshotDir>,
        metrics: SnapshotMetrics,
        pubsub: Arc<Hub>,
    ) -> Result<Self, String> {
        let progress = Arc::new(Progress::default());
        let applied = match snapshots.newest_id() {
            Some(id) => {
                let loaded = Applied::from_snapshot(snapshots.reader(&id)?)?;
                tracing::info!("loaded snapshot {}", loaded.id);
                progress.snapshot_size(loaded.size);
                loaded.applied
            }
            None => Applied::default(),
        };
        Ok(StateMachineStore {
            state: Arc::new(RwLock::new(applied)),
            table,
            snapshots,
            progress,
            build_failures: Arc::new(watch::Sender::new(None)),
            metrics,
            pubsub,
        })
    }

    /// Reads a snapshot file made by another cluster, of this project or
    /// of Go uhaha, for [`StateMachineStore::restore`].
    pub fn read_backup(from: impl BufRead) -> Result<Backup<M>, String> {
        Ok(Backup(Applied::from_snapshot(from)?.applied))
    }

    /// Replaces the state with a backup's (`--restore`): its machine and
    /// clock, not its Raft position.
    pub async fn restore(&self, backup: Backup<M>) {
        let mut state = self.state.write().await;
        state.machine = backup.0.machine;
        state.clock = backup.0.clock;
    }

    /// The shared state, for readers.
    pub fn state(&self) -> Arc<RwLock<Applied<M>>> {
        self.state.clone()
    }

    /// Tells of every snapshot build that fails, with its error.
    pub fn build_failures(&self) -> watch::Receiver<Option<String>> {
        self.build_failures.subscribe()
    }

    /// What was applied since the last snapshot began.
    pub fn progress(&self) -> Arc<Progress> {
        self.progress.clone()
    }
}

/// What openraft's state machine needs of a [`StateMachineStore`], without
/// the machine's type: since openraft 0.10 `Raft` is generic over its
/// state machine, and this keeps it one type for every machine, as it was.
trait Machinery: Send + Sync + 'static {
    /// The last applied log id and membership.
    fn applied_state(&self) -> BoxFuture<'_, (Option<LogId>, StoredMembership)>;
    /// Applies entries in order; one reply list per entry.
    fn apply(&self, entries: Vec<Entry>) -> BoxFuture<'_, Vec<Vec<Reply>>>;
    /// Builds a snapshot, blocking the thread while it does.
    fn build(&self) -> Result<Snapshot, String>;
    /// Tells of a snapshot build that failed.
    fn build_failed(&self, error: String);
    /// Keeps and loads a snapshot that the leader sent.
    fn install(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<(), String>>;
    /// The newest snapshot on disk.
    fn current(&self) -> Result<Option<Snapshot>, String>;
}

impl<M: Commands> Machinery for StateMachineStore<M> {
    fn applied_state(&self) -> BoxFuture<'_, (Option<LogId>, StoredMembership)> {
        async move {
            let state = self.state.read().await;
            (state.last_applied, state.membership.clone())
        }
        .boxed()
    }

    fn apply(&self, entries: Vec<Entry>) -> BoxFuture<'_, Vec<Vec<Reply>>> {
        async move {
            let mut state = self.state.write().await;
            let table = &self.table;
            let mut replies = Vec::with_capacity(entries.len());
            for entry in entries {
                state.last_applied = Some(entry.log_id);
                match entry.payload {
                    EntryPayload::Blank => replies.push(Vec::new()),
                    EntryPayload::Normal(batch) => {
                        state.clock.advance(batch.stamp, batch.seed);
                        self.progress.applied(&batch.commands);
                        let out = batch
                            .commands
                            .iter()
                            .map(|c| state.apply_command(table, &self.pubsub, c))
                            .collect();
                        replies.push(out);
                    }
                    EntryPayload::Membership(m) => {
                        state.membership = StoredMembership::new(Some(entry.log_id), m);
                        replies.push(Vec::new());
                    }
                }
            }
            replies
        }
        .boxed()
    }

    /// Saves the state as it is now: the machine captures a view of it
    /// under the read lock (applies wait meanwhile: for serde machines the
    /// encoding, for custom ones their [`crate::Snapshot::view`]), then
    /// the view saves itself into the file while applies go on. Runs on a
    /// blocking thread: it waits for the lock and writes by blocking.
    fn build(&self) -> Result<Snapshot, String> {
        self.progress.restart();
        let started = std::time::Instant::now();
        let (header, mut view) = {
            let state = self.state.blocking_read();
            let meta = SnapshotMeta {
                last_log_id: state.last_applied,
                last_membership: state.membership.clone(),
            };
            let header = Header {
                clock: state.clock.clone(),
                meta,
            };
            let view = contain_snapshot(|| state.machine.capture()).map_err(|e| e.to_string())?;
            (header, view)
        };
        let id = &header.id();
        let mut size = 0;
        let written = self.snapshots.write_with(id, |file| {
            size = snapshot_file::write_to(file, &header, |to| {
                contain_snapshot(|| view.save(to)).map_err(io::Error::other)
            })?;
            Ok(())
        });
        let path = written.as_ref().ok().and_then(|_| self.snapshots.path(id));
        if let Err(panicked) = contain(|| view.done(path.as_deref())) {
            tracing::error!("the snapshot view's done {panicked}");
        }
        written?;
        let file_len = path
            .and_then(|path| std::fs::metadata(path).ok())
            .map_or(0, |m| m.len());
        self.progress.snapshot_size(size);
        self.metrics.saved.inc();
        self.metrics
            .save_duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics.bytes.set(file_len as i64);
        tracing::info!("snapshot {id} saved ({file_len} bytes, {size} before compression)");
        // openraft keeps only the position of a snapshot it built; a
        // follower that needs one gets the file from `current`. Reading the
        // file back here would hold the whole of it in memory for nothing.
        Ok(Snapshot {
            meta: header.meta,
            snapshot: Vec::new(),
        })
    }

    fn build_failed(&self, error: String) {
        self.build_failures.send_replace(Some(error));
    }

    fn install(&self, bytes: Vec<u8>) -> BoxFuture<'_, Result<(), String>> {
        async move {
            let loaded = Applied::<M>::from_snapshot(&bytes[..])?;
            let snapshots = self.snapshots.clone();
            let id = loaded.id.clone();
            let bytes_len = bytes.len();
            tokio::task::spawn_blocking(move || snapshots.write(&id, &bytes))
                .await
                .map_err(|e| e.to_string())??;
            tracing::info!("installed snapshot {}", loaded.id);
            self.metrics.installed.inc();
            self.metrics.bytes.set(bytes_len as i64);
            self.progress.restart();
            self.progress.snapshot_size(loaded.size);
            *self.state.write().await = loaded.applied;
            Ok(())
        }
        .boxed()
    }

    /// The newest snapshot on disk.
    fn current(&self) -> Result<Option<Snapshot>, String> {
        let Some(id) = self.snapshots.newest_id() else {
            return Ok(None);
        };
        let bytes = self.snapshots.read(&id)?;
        let header = snapshot_file::open(&bytes[..])?.header;
        Ok(Some(Snapshot {
            meta: header.meta,
            snapshot: bytes,
        }))
    }
}

/// The state machine that openraft drives: a [`StateMachineStore`] of any
/// machine.
#[derive(Clone)]
pub struct StateMachine(Arc<dyn Machinery>);

impl<M: Commands> From<StateMachineStore<M>> for StateMachine {
    fn from(store: StateMachineStore<M>) -> Self {
        StateMachine(Arc::new(store))
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;

    /// Builds a snapshot. openraft stops Raft on any error of a build, so
    /// a build that fails (a machine whose save fails or panics, a full
    /// disk) is told to [`StateMachineStore::build_failures`] instead and
    /// answered with the newest snapshot there is: openraft takes a
    /// snapshot that is not newer than its own as a no-op, and the log
    /// stays until a later build succeeds.
    async fn build_snapshot(&mut self) -> io::Result<Snapshot> {
        let machinery = self.0.clone();
        let built = tokio::task::spawn_blocking(move || machinery.build())
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        match built {
            Ok(snapshot) => Ok(snapshot),
            Err(e) => {
                tracing::error!("snapshot failed: {e}");
                self.0.build_failed(e);
                let current = self.0.current().map_err(io::Error::other)?;
                Ok(current.unwrap_or_else(|| Snapshot {
                    meta: SnapshotMeta::default(),
                    snapshot: Vec::new(),
                }))
            }
        }
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotData = SnapshotData;
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> io::Result<(Option<LogId>, StoredMembership)> {
        Ok(self.0.applied_state().await)
    }

    /// Applies the entries as they come, every entry that is ready at once
    /// under one lock, and hands each entry's replies to its responder
    /// (blank and membership entries get an empty list).
    async fn apply<S>(&mut self, mut entries: S) -> io::Result<()>
    where
        S: Stream<Item = io::Result<EntryResponder<TypeConfig>>> + Unpin + Send,
    {
        let mut ready = Vec::new();
        let mut responders = Vec::new();
        let mut failed = None;
        while let Some(first) = entries.next().await {
            let mut next = Some(first);
            while let Some(item) = next.take() {
                match item {
                    Ok((entry, responder)) => {
                        ready.push(entry);
                        responders.push(responder);
                    }
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
                next = entries.next().now_or_never().flatten();
            }
            let replies = self.0.apply(std::mem::take(&mut ready)).await;
            for (responder, replies) in responders.drain(..).zip(replies) {
                if let Some(responder) = responder {
                    responder.send(replies);
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    /// Installs a snapshot sent by the leader: kept as a file, then loaded.
    async fn install_snapshot(
        &mut self,
        _meta: &SnapshotMeta,
        snapshot: SnapshotData,
    ) -> io::Result<()> {
        self.0.install(snapshot).await.map_err(io::Error::other)
    }

    async fn get_current_snapshot(&mut self) -> io::Result<Option<Snapshot>> {
        self.0.current().map_err(io::Error::other)
    }
}
