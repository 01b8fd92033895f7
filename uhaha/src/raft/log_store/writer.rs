//! The log writer thread: every change to the log goes through it.
//!
//! It takes everything queued, encodes it as records into one buffer,
//! appends that to the newest segment with one write and one `fdatasync`
//! (group commit), and only then tells openraft that the entries are
//! flushed or that the vote is saved. One thread instead of a trip to
//! tokio's blocking pool per append: no task hops into and out of the pool.
//! The committed log id (which needs no fsync) rides along with whatever
//! group is due about once a second, or is written on its own when idle.
//!
//! A failed write or fsync stops the writer: after a failed fsync the
//! kernel may have dropped the pages it could not write, so nothing later
//! could be trusted to be on disk. openraft then stops this node's Raft.

use super::crash_point::crash_point;
use super::index::Loc;
use super::recent::RecentEntries;
use super::record::{self, Record};
use super::segment::{self, Active};
use super::{Entry, LogError, LogId, LogReader, TypeConfig, Vote};
use crate::metrics::WalMetrics;
use openraft::storage::IOFlushed;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How long the writer may hold changes that were written without an
/// fsync (`--nosync` appends, purges) or not written at all (the
/// committed log id) before it makes them durable.
pub(super) const LAZY_FLUSH: Duration = Duration::from_secs(1);

/// Most changes in one group, so that a flood cannot delay every callback
/// behind one huge write.
const MAX_GROUP: usize = 1024;

/// A change for the log writer thread.
pub(super) enum Change {
    /// New entries; openraft is told through `IOFlushed` once they are
    /// written (and fsynced, unless `--nosync`).
    Append(Vec<Entry>, IOFlushed<TypeConfig>),
    /// The vote: always fsynced before `Done` fires.
    Vote(Vote, Done),
    /// Drop the entries after this log id (all without one); always
    /// fsynced.
    Truncate(Option<LogId>, Done),
    /// Drop the entries up to this log id.
    Purge(LogId, Done),
}

/// Told when a change is written, or why it failed.
pub(super) type Done = oneshot::Sender<Result<(), String>>;

impl Change {
    /// Whether the group holding this change must be fsynced.
    fn needs_fsync(&self, sync: bool) -> bool {
        match self {
            Change::Append(..) | Change::Purge(..) => sync,
            Change::Vote(..) | Change::Truncate(..) => true,
        }
    }

    /// The records that write the change.
    fn records(&self) -> Vec<Record<&Entry>> {
        match self {
            Change::Append(entries, _) => entries.iter().map(Record::Entry).collect(),
            Change::Vote(vote, _) => vec![Record::Vote(*vote)],
            Change::Truncate(kept, _) => vec![Record::Truncate(*kept)],
            Change::Purge(upto, _) => vec![Record::Purge(*upto)],
        }
    }

    /// Tells the recent entries what the file holds now that the change is
    /// written. (What a truncation or a purge removes left them when
    /// openraft asked for it, before the change was queued.)
    fn record(&self, recent: &mut RecentEntries) {
        match self {
            Change::Append(entries, _) => {
                if let Some(last) = entries.last() {
                    recent.written_up_to(last.log_id.index);
                }
            }
            Change::Truncate(kept, _) => recent.unwritten_from(kept.map_or(0, |k| k.index + 1)),
            Change::Vote(..) | Change::Purge(..) => {}
        }
    }

    /// Tells whoever waits how the write went.
    fn complete(self, result: &Result<(), String>) {
        let done = match self {
            Change::Append(_, flushed) => {
                return flushed.io_completed(result.clone().map_err(io::Error::other));
            }
            Change::Vote(_, done) | Change::Truncate(_, done) | Change::Purge(_, done) => done,
        };
        let _ = done.send(result.clone());
    }
}

/// The newest committed log id, waiting to be written. Set without waking
/// the writer thread: nobody waits for it (openraft allows losing it; it
/// only lets a restarted node apply its log before an election).
type CommittedSlot = Arc<Mutex<Option<Option<LogId>>>>;

/// The handle to the log writer thread. Dropping it closes the channel and
/// waits for the thread, which makes everything durable before it ends: a
/// clean shutdown loses nothing, `--nosync` or not.
pub(super) struct LogWriter {
    tx: Option<mpsc::Sender<Change>>,
    committed: CommittedSlot,
    thread: Option<JoinHandle<()>>,
}

/// How the writer writes: where, with fsyncs or not, and how big a
/// segment grows before the next one starts.
pub(super) struct Settings {
    pub(super) dir: PathBuf,
    pub(super) sync: bool,
    pub(super) segment_bytes: u64,
    pub(super) metrics: WalMetrics,
}

impl LogWriter {
    pub(super) fn start(
        log: LogReader,
        active: Active,
        settings: Settings,
    ) -> Result<LogWriter, LogError> {
        let (tx, rx) = mpsc::channel();
        let committed = CommittedSlot::default();
        let writer = WriterThread {
            log,
            active,
            settings,
            rx,
            group: Vec::new(),
            buf: Vec::new(),
            committed: committed.clone(),
            unsynced: false,
            purged: false,
            rotate_due: false,
            failed: None,
            last_lazy_flush: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("uhaha-log".into())
            .spawn(move || writer.run())
            .map_err(|source| LogError::io("start the writer of", "the log", source))?;
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

    /// Queues a change and waits until it is written.
    pub(super) async fn call(&self, change: impl FnOnce(Done) -> Change) -> io::Result<()> {
        let (done, written) = oneshot::channel();
        self.send(change(done));
        match written.await {
            Ok(result) => result.map_err(io::Error::other),
            Err(_) => Err(io::Error::other("the log writer has stopped")),
        }
    }

    pub(super) fn set_committed(&self, committed: Option<LogId>) {
        *self.committed.lock().expect("committed lock") = Some(committed);
    }

    /// The committed log id that waits to be written, if one does.
    pub(super) fn pending_committed(&self) -> Option<Option<LogId>> {
        *self.committed.lock().expect("committed lock")
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
    /// The index, the recent entries and the files readers share.
    log: LogReader,
    /// The segment written to.
    active: Active,
    settings: Settings,
    rx: mpsc::Receiver<Change>,
    /// The changes of the next group, kept to reuse the allocation.
    group: Vec<Change>,
    /// The next group's records, encoded.
    buf: Vec<u8>,
    committed: CommittedSlot,
    /// Whether something was written without an fsync since the last one.
    unsynced: bool,
    /// Whether a purge was written since segments were last deleted.
    purged: bool,
    /// Whether the next write starts a new segment: after a purge, so that
    /// the next purge frees the current segment whole, and disk use
    /// follows the log kept between snapshots rather than the segment size.
    rotate_due: bool,
    /// Why the writer stopped writing, once a write or an fsync failed.
    failed: Option<String>,
    /// When lazy changes were last made durable.
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
        self.unsynced || self.purged || self.committed.lock().expect("committed lock").is_some()
    }

    /// Whether lazy changes wait, and have waited long enough.
    fn lazy_due(&self) -> bool {
        self.lazy_waiting() && self.last_lazy_flush.elapsed() >= LAZY_FLUSH
    }

    /// Takes `first` and everything queued behind it, and writes them
    /// together, with the lazy changes when they are due.
    fn take_group(&mut self, first: Change) {
        self.group.push(first);
        while self.group.len() < MAX_GROUP {
            let Ok(next) = self.rx.try_recv() else { break };
            self.group.push(next);
        }
        let lazy = self.lazy_due();
        let sync = self.settings.sync;
        let fsync = lazy || self.group.iter().any(|c| c.needs_fsync(sync));
        self.commit(fsync, lazy);
    }

    /// Makes the lazy changes durable, if any wait.
    fn flush_lazy(&mut self) {
        if self.lazy_waiting() {
            self.commit(true, true);
        }
        self.last_lazy_flush = Instant::now();
    }

    /// Writes the group and reports to each of its changes. With `lazy`
    /// the write also carries the committed log id.
    fn commit(&mut self, fsync: bool, lazy: bool) {
        let group = std::mem::take(&mut self.group);
        let mut records: Vec<Record<&Entry>> = group.iter().flat_map(Change::records).collect();
        if lazy {
            records.extend(self.take_committed(&group).map(Record::Committed));
        }
        let result = match &self.failed {
            Some(why) => Err(why.clone()),
            None => self.write(&records, fsync),
        };
        match &result {
            Ok(()) => {
                if lazy {
                    self.last_lazy_flush = Instant::now();
                }
                let mut recent = self.log.recent.lock().expect("recent entries lock");
                group.iter().for_each(|c| c.record(&mut recent));
            }
            Err(e) if self.failed.is_none() => {
                tracing::error!("log write failed, this node's log stops: {e}");
                self.failed = Some(e.clone());
            }
            Err(_) => {}
        }
        drop(records);
        self.group = group;
        for change in self.group.drain(..) {
            change.complete(&result);
        }
    }

    /// The committed log id waiting to be written, if the log will hold
    /// its entry once `group` is written. openraft may report an entry
    /// committed before this node has written it (a follower learns the
    /// commit index from the leader): written first, a committed id ahead
    /// of the log would stop the node from starting after a crash. Such an
    /// id waits for a later group.
    fn take_committed(&self, group: &[Change]) -> Option<Option<LogId>> {
        let mut slot = self.committed.lock().expect("committed lock");
        let committed = slot.take()?;
        let appended = group.iter().rev().find_map(|c| match c {
            Change::Append(entries, _) => entries.last().map(|e| e.log_id.index),
            _ => None,
        });
        let last = appended.or_else(|| {
            let index = self.log.index.lock().expect("log index lock");
            index.last_log_id().map(|l| l.index)
        });
        if committed.map(|c| c.index) <= last {
            Some(committed)
        } else {
            *slot = Some(committed);
            None
        }
    }

    /// Appends `records` to the newest segment (starting the next segment
    /// first if this one is full), fsyncs when asked, and applies them to
    /// the index.
    fn write(&mut self, records: &[Record<&Entry>], fsync: bool) -> Result<(), String> {
        self.buf.clear();
        let mut lens = Vec::with_capacity(records.len());
        for record in records {
            lens.push(record::encode(record, &mut self.buf).map_err(|e| e.to_string())?);
        }
        let full = self.active.len + self.buf.len() as u64 > self.settings.segment_bytes;
        if (full || self.rotate_due) && self.active.len > self.active.opened_len {
            self.rotate().map_err(|e| e.to_string())?;
        }
        if self.settings.sync {
            let end = self.active.len + self.buf.len() as u64;
            self.active
                .make_room(end, &self.settings.dir)
                .map_err(|e| e.to_string())?;
        }
        let path = || segment::path(&self.settings.dir, self.active.seq);
        let io_error = |action: &str, e: io::Error| format!("{action} {}: {e}", path().display());
        self.active
            .file
            .write_all_at(&self.buf, self.active.len)
            .map_err(|e| io_error("write", e))?;
        crash_point("append.written");
        let metrics = &self.settings.metrics;
        metrics.bytes.inc_by(self.buf.len() as u64);
        let entries = records.iter().filter(|r| matches!(r, Record::Entry(_)));
        let entries = entries.count() as u64;
        if entries > 0 {
            metrics.entries.inc_by(entries);
            metrics.entries_per_write.observe(entries as f64);
        }
        if fsync {
            let started = Instant::now();
            self.active
                .file
                .sync_data()
                .map_err(|e| io_error("fsync", e))?;
            metrics.fsync.observe(started.elapsed().as_secs_f64());
            crash_point("append.synced");
        }
        self.unsynced = !fsync && (self.unsynced || !self.buf.is_empty());
        let mut offset = self.active.len;
        self.active.len += self.buf.len() as u64;
        let mut index = self.log.index.lock().expect("log index lock");
        for (record, len) in records.iter().zip(lens) {
            let loc = Loc {
                segment: self.active.seq,
                offset,
                len: len as u32,
            };
            index.apply(record, loc);
            offset += len as u64;
            self.purged |= matches!(record, Record::Purge(_) | Record::Truncate(_));
            self.rotate_due |= matches!(record, Record::Purge(_));
        }
        drop(index);
        if fsync && self.purged {
            self.delete_purged_segments();
        }
        Ok(())
    }

    /// Starts the next segment, once what the current one holds is durable.
    fn rotate(&mut self) -> Result<(), LogError> {
        let path = segment::path(&self.settings.dir, self.active.seq);
        if self.unsynced {
            self.active
                .file
                .sync_data()
                .map_err(|source| LogError::io("fsync", &path, source))?;
            self.unsynced = false;
        }
        self.active.trim(&self.settings.dir)?;
        let state = self.log.index.lock().expect("log index lock").state;
        let next = segment::create(&self.settings.dir, self.active.seq + 1, state)?;
        let mut index = self.log.index.lock().expect("log index lock");
        index.files.insert(next.seq, next.file.clone());
        self.active = next;
        self.rotate_due = false;
        Ok(())
    }

    /// Deletes the segments older than the oldest that holds a live entry,
    /// oldest first, each deletion made durable before the next, so that
    /// the segments left are always numbered without a hole (recovery
    /// takes a hole for a lost segment). Called only once every record
    /// written is durable, the purges that freed them included. A failure
    /// is only logged: the files stay, and replaying them again is
    /// harmless.
    fn delete_purged_segments(&mut self) {
        self.purged = false;
        let mut index = self.log.index.lock().expect("log index lock");
        let keep = index.oldest_segment_in_use().unwrap_or(self.active.seq);
        let old: Vec<u64> = index.files.range(..keep).map(|(seq, _)| *seq).collect();
        for seq in old {
            let path = segment::path(&self.settings.dir, seq);
            if let Err(e) = std::fs::remove_file(&path) {
                tracing::warn!("remove {}: {e}", path.display());
                return;
            }
            index.files.remove(&seq);
            crash_point("purge.deleted");
            if let Err(e) = segment::sync_dir(&self.settings.dir) {
                tracing::warn!("{e}");
                return;
            }
        }
    }
}
