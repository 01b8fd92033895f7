//! The log writer thread: every change to the log file goes through it.
//!
//! It takes everything queued, writes it as one redb transaction and commits
//! it with one fsync (group commit), and only then tells openraft that the
//! entries are flushed or that the vote is saved. One thread instead of a
//! trip to tokio's blocking pool per append: no task hops into and out of
//! the pool. The committed log id (which needs no fsync) is written about
//! once a second with whatever transaction is due, instead of costing a
//! transaction per commit.

use super::recent::RecentEntries;
use super::{Entry, LogId, LogReader, TypeConfig, Vote};
use super::{COMMITTED, LAST_PURGED, LOGS, META, VOTE};
use crate::codec;
use openraft::storage::IOFlushed;
use redb::Durability;
use std::io;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long the writer may hold changes that were committed without an
/// fsync (`--nosync` appends) or not written at all (the committed log id)
/// before it makes them durable.
pub(super) const LAZY_FLUSH: Duration = Duration::from_secs(1);

/// Most changes in one transaction, so that a flood cannot delay every
/// callback behind one huge commit.
const MAX_GROUP: usize = 1024;

/// A change for the log writer thread.
pub(super) enum Change {
    /// New entries; openraft is told through `IOFlushed` once they are
    /// written (and fsynced, unless `--nosync`).
    Append(Vec<Entry>, IOFlushed<TypeConfig>),
    /// The vote (and its encoding): always fsynced before `Done` fires.
    Vote(Vote, Vec<u8>, Done),
    /// Drop the entries from this index on; always fsynced.
    Truncate(u64, Done),
    /// Drop the entries up to this log id and remember it.
    Purge(LogId, Done),
}

/// Told when a change is committed, or why it failed.
pub(super) type Done = oneshot::Sender<Result<(), String>>;

impl Change {
    /// Whether the transaction holding this change must be fsynced.
    fn needs_fsync(&self, sync: bool) -> bool {
        match self {
            Change::Append(..) | Change::Purge(..) => sync,
            Change::Vote(..) | Change::Truncate(..) => true,
        }
    }

    /// Writes the change into `tx`.
    fn write(&self, tx: &redb::WriteTransaction) -> Result<(), String> {
        match self {
            Change::Append(entries, _) => {
                let mut logs = tx.open_table(LOGS).map_err(db_error)?;
                for entry in entries {
                    let bytes = codec::encode(entry).map_err(|e| e.to_string())?;
                    logs.insert(entry.log_id.index, bytes.as_slice())
                        .map_err(db_error)?;
                }
            }
            Change::Vote(_, bytes, _) => put_meta(tx, VOTE, bytes)?,
            Change::Truncate(since, _) => {
                let mut logs = tx.open_table(LOGS).map_err(db_error)?;
                logs.retain_in(*since.., |_, _| false).map_err(db_error)?;
            }
            Change::Purge(upto, _) => {
                let marker = codec::encode(upto).map_err(|e| e.to_string())?;
                put_meta(tx, LAST_PURGED, &marker)?;
                let mut logs = tx.open_table(LOGS).map_err(db_error)?;
                logs.retain_in(..=upto.index, |_, _| false)
                    .map_err(db_error)?;
            }
        }
        Ok(())
    }

    /// Tells the reader's memory what is in the file now that the change
    /// is committed: the vote, and which recent entries are written. (What
    /// a truncation or a purge removes left the recent entries when
    /// openraft asked for it, before the change was queued.)
    fn record(&self, log: &LogReader, recent: &mut RecentEntries) {
        match self {
            Change::Append(entries, _) => {
                if let Some(last) = entries.last() {
                    recent.written_up_to(last.log_id.index);
                }
            }
            Change::Truncate(since, _) => recent.unwritten_from(*since),
            Change::Vote(vote, ..) => *log.vote.lock().expect("vote lock") = Some(*vote),
            Change::Purge(..) => {}
        }
    }

    /// Tells whoever waits how the commit went.
    fn complete(self, result: &Result<(), String>) {
        let done = match self {
            Change::Append(_, flushed) => {
                return flushed.io_completed(result.clone().map_err(io::Error::other));
            }
            Change::Vote(_, _, done) | Change::Truncate(_, done) | Change::Purge(_, done) => done,
        };
        let _ = done.send(result.clone());
    }
}

pub(super) fn put_meta(tx: &redb::WriteTransaction, key: &str, value: &[u8]) -> Result<(), String> {
    let mut meta = tx.open_table(META).map_err(db_error)?;
    meta.insert(key, value).map_err(db_error)?;
    Ok(())
}

fn db_error(e: impl Into<redb::Error>) -> String {
    e.into().to_string()
}

/// The newest committed log id, waiting to be written. Set without waking
/// the writer thread: nobody waits for it (openraft allows losing it; it
/// only lets a restarted node apply its log before an election).
type CommittedSlot = Arc<Mutex<Option<Vec<u8>>>>;

/// The handle to the log writer thread. Dropping it closes the channel and
/// waits for the thread, which makes everything durable before it ends: a
/// clean shutdown loses nothing, `--nosync` or not.
pub(super) struct LogWriter {
    tx: Option<mpsc::Sender<Change>>,
    committed: CommittedSlot,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    pub(super) fn start(log: LogReader, sync: bool) -> Result<LogWriter, String> {
        let (tx, rx) = mpsc::channel();
        let committed = CommittedSlot::default();
        let writer = WriterThread {
            log,
            sync,
            rx,
            group: Vec::new(),
            committed: committed.clone(),
            unsynced: false,
            last_lazy_flush: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("uhaha-log".into())
            .spawn(move || writer.run())
            .map_err(|e| format!("start the log writer: {e}"))?;
        Ok(LogWriter {
            tx: Some(tx),
            committed,
            thread: Some(thread),
        })
    }

    /// Queues a change; a change that cannot be queued is failed at once.
    pub(super) fn send(&self, change: Change) {
        let sent = match &self.tx {
            Some(tx) => tx.send(change).map_err(|e| e.0),
            None => Err(change),
        };
        if let Err(change) = sent {
            change.complete(&Err("the log writer has stopped".into()));
        }
    }

    /// Queues a change and waits until it is committed.
    pub(super) async fn call(&self, change: impl FnOnce(Done) -> Change) -> io::Result<()> {
        let (done, committed) = oneshot::channel();
        self.send(change(done));
        match committed.await {
            Ok(result) => result.map_err(io::Error::other),
            Err(_) => Err(io::Error::other("the log writer has stopped")),
        }
    }

    pub(super) fn set_committed(&self, bytes: Vec<u8>) {
        *self.committed.lock().expect("committed lock") = Some(bytes);
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The log writer thread's state.
struct WriterThread {
    /// The database and the cache of recent entries.
    log: LogReader,
    /// Whether appends are fsynced (not `--nosync`).
    sync: bool,
    rx: mpsc::Receiver<Change>,
    /// The changes of the next transaction, kept to reuse the allocation.
    group: Vec<Change>,
    committed: CommittedSlot,
    /// Whether a transaction was committed without an fsync since the last
    /// fsync.
    unsynced: bool,
    /// When lazy changes (the committed log id, unsynced transactions) were
    /// last made durable.
    last_lazy_flush: Instant,
}

/// What the writer thread waits for next.
enum Next {
    Change(Change),
    /// [`LAZY_FLUSH`] has passed without a change.
    Idle,
    /// Every handle is gone.
    Closed,
}

impl WriterThread {
    fn run(mut self) {
        loop {
            match self.next() {
                Next::Change(first) => self.take_group(first),
                Next::Idle => self.flush_lazy(),
                Next::Closed => break,
            }
        }
        self.flush_lazy();
    }

    /// Waits for a change, but no longer than until lazy changes are due.
    fn next(&self) -> Next {
        let due = self.last_lazy_flush + LAZY_FLUSH;
        match self
            .rx
            .recv_timeout(due.saturating_duration_since(Instant::now()))
        {
            Ok(change) => Next::Change(change),
            Err(mpsc::RecvTimeoutError::Timeout) => Next::Idle,
            Err(mpsc::RecvTimeoutError::Disconnected) => Next::Closed,
        }
    }

    /// Whether lazy changes wait to be made durable.
    fn lazy_waiting(&self) -> bool {
        self.unsynced || self.committed.lock().expect("committed lock").is_some()
    }

    /// Whether lazy changes wait, and have waited long enough.
    fn lazy_due(&self) -> bool {
        self.lazy_waiting() && self.last_lazy_flush.elapsed() >= LAZY_FLUSH
    }

    /// Takes `first` and everything queued behind it, and commits them
    /// together, with the lazy changes when they are due.
    fn take_group(&mut self, first: Change) {
        self.group.push(first);
        while self.group.len() < MAX_GROUP {
            let Ok(next) = self.rx.try_recv() else { break };
            self.group.push(next);
        }
        let lazy = self.lazy_due();
        let fsync = lazy || self.group.iter().any(|c| c.needs_fsync(self.sync));
        self.commit(fsync, lazy);
    }

    /// Makes the lazy changes durable, if any wait.
    fn flush_lazy(&mut self) {
        if self.lazy_waiting() {
            self.commit(true, true);
        }
        self.last_lazy_flush = Instant::now();
    }

    /// Writes the group in one transaction and reports to each of its
    /// changes. With `lazy` the transaction also carries the committed log
    /// id; otherwise that waits, as writing it would add pages to every
    /// fsync.
    fn commit(&mut self, fsync: bool, lazy: bool) {
        let committed = if lazy {
            self.committed.lock().expect("committed lock").take()
        } else {
            None
        };
        let result = self.write_transaction(fsync, committed.as_deref());
        match &result {
            Ok(()) => {
                self.unsynced = !fsync;
                if lazy {
                    self.last_lazy_flush = Instant::now();
                }
                let mut recent = self.log.recent.lock().expect("recent entries lock");
                self.group
                    .iter()
                    .for_each(|c| c.record(&self.log, &mut recent));
            }
            Err(e) => tracing::error!("log write failed: {e}"),
        }
        for change in self.group.drain(..) {
            change.complete(&result);
        }
    }

    fn write_transaction(&self, fsync: bool, committed: Option<&[u8]>) -> Result<(), String> {
        let mut tx = self.log.db.begin_write().map_err(db_error)?;
        if !fsync {
            tx.set_durability(Durability::None)
                .map_err(|e| e.to_string())?;
        }
        for change in &self.group {
            change.write(&tx)?;
        }
        if let Some(bytes) = committed {
            put_meta(&tx, COMMITTED, bytes)?;
        }
        tx.commit().map_err(db_error)
    }
}
