//! The Raft log and vote: an append-only log of checksummed records in
//! segment files, one directory per node, written by one thread.
//!
//! Every change goes to the log writer thread ([`writer`]), which appends
//! whatever is queued with one write and one `fdatasync` (group commit),
//! and only then tells openraft that entries are flushed or that the vote
//! is saved. openraft's own examples report a flush before the data is on
//! disk, which loses acknowledged writes and can elect two leaders in one
//! term after a crash; here the callback runs after the fsync, never
//! before. Appended entries are readable at once from memory ([`recent`]),
//! as openraft requires, while they wait for the writer; older ones are
//! read from the segments, found through the [`index`].
//!
//! Nothing is ever rewritten: a truncation or a purge is a record, the
//! vote is a record, and each segment starts with the state that older
//! segments held ([`record::Record::Start`]), so that a segment whose
//! entries are all purged is simply deleted. A small entry costs its own
//! bytes and the page they land in, not a tree of pages as a B-tree's
//! copy-on-write commit does (redb, which this replaced, wrote 25 KB per
//! small entry per node).
//!
//! No crate did this when it was written: raft-engine (TiKV's) builds C
//! code and brings protobuf, okaywal has no suffix truncation and is no
//! longer released, and the small WAL crates have neither truncation nor
//! crash tests. Records are checked with xxHash32, which the LZ4 frames of
//! the snapshots already bring in.
//!
//! With `--nosync` appends are written without an fsync and the writer
//! makes everything durable once a second, so a crash of the machine may
//! lose up to about a second of acknowledged writes (a killed process loses
//! nothing: its writes are in the kernel's page cache).

mod crash_point;
#[cfg(test)]
mod crash_tests;
mod index;
mod recent;
mod record;
mod segment;
#[cfg(test)]
mod tests;
mod writer;

use super::{Entry, LogId, TypeConfig, Vote};
use crate::metrics::WalMetrics;
use index::{Index, Loc};
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use recent::RecentEntries;
use record::{Found, Record};
use std::fmt::Debug;
use std::io;
use std::ops::RangeBounds;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use writer::{Change, LogWriter, Settings};

/// How big a segment grows before the next one starts. Purged entries
/// leave the disk a segment at a time.
const SEGMENT_BYTES: u64 = 16 << 20;

/// The log could not be opened, or a file of it could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file or directory could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`open`, `write`, `fsync`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A segment holds something that is not a whole record before its
    /// end: the log will not open rather than skip entries.
    #[error(
        "{} is damaged at offset {offset}: {why}. The node will not start on a log that lost \
         entries; move its data directory aside and let it rejoin the cluster",
        path.display()
    )]
    Damaged {
        /// The segment file.
        path: PathBuf,
        /// Where in it the damage starts.
        offset: u64,
        /// What is wrong there.
        why: String,
    },
    /// Entries or segments are missing (a segment file was deleted by
    /// hand, or lost).
    #[error(
        "the log in {} is missing entries {from} to {to}; move the node's data directory aside \
         and let it rejoin the cluster",
        dir.display()
    )]
    Missing {
        /// The log's directory.
        dir: PathBuf,
        /// The first missing entry's index.
        from: u64,
        /// The last missing entry's index.
        to: u64,
    },
    /// A segment between two others is gone: segments are only ever
    /// deleted oldest first.
    #[error(
        "the log in {} has lost the segments between {after} and {before}; move the node's data \
         directory aside and let it rejoin the cluster",
        dir.display()
    )]
    LostSegment {
        /// The log's directory.
        dir: PathBuf,
        /// The segment before the hole.
        after: u64,
        /// The segment after it.
        before: u64,
    },
    /// A record could not be encoded.
    #[error("encode a log record: {0}")]
    Encode(crate::codec::CodecError),
}

impl LogError {
    fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> LogError {
        LogError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// Reads the log; what openraft's replication streams hold.
#[derive(Clone)]
pub struct LogReader {
    /// Where the written entries are, the vote and the segment files.
    index: Arc<Mutex<Index>>,
    recent: Arc<Mutex<RecentEntries>>,
}

/// The log store that openraft's core owns: reads directly, writes through
/// the log writer thread.
pub struct LogStore {
    reader: LogReader,
    writer: LogWriter,
}

impl LogStore {
    /// Opens (or creates) the log in directory `dir`, counting its writes in
    /// `metrics`. Without `sync`, appends are not fsynced and the writer
    /// makes them durable once a second.
    pub fn open(dir: &Path, sync: bool, metrics: WalMetrics) -> Result<LogStore, LogError> {
        Self::open_with(dir, sync, SEGMENT_BYTES, metrics)
    }

    fn open_with(
        dir: &Path,
        sync: bool,
        segment_bytes: u64,
        metrics: WalMetrics,
    ) -> Result<LogStore, LogError> {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|source| LogError::io("create", dir, source))?;
            if let Some(parent) = dir.parent() {
                segment::sync_dir(parent)?;
            }
        }
        let (index, active) = segment::recover(dir)?;
        let reader = LogReader {
            index: Arc::new(Mutex::new(index)),
            recent: Arc::default(),
        };
        let settings = Settings {
            dir: dir.into(),
            sync,
            segment_bytes,
            metrics,
        };
        Ok(LogStore {
            writer: LogWriter::start(reader.clone(), active, settings)?,
            reader,
        })
    }
}

impl LogReader {
    fn with_recent(&self, f: impl FnOnce(&mut RecentEntries)) {
        f(&mut self.recent.lock().expect("recent entries lock"));
    }

    fn index(&self) -> std::sync::MutexGuard<'_, Index> {
        self.index.lock().expect("log index lock")
    }

    /// The entries in `range`: the older ones from the files, the recent
    /// ones (including those still waiting for the writer) from memory.
    fn entries<RB: RangeBounds<u64>>(&self, range: RB) -> io::Result<Vec<Entry>> {
        let (older, recent) = self
            .recent
            .lock()
            .expect("recent entries lock")
            .split(&range);
        let Some(older) = older else {
            return Ok(recent);
        };
        let mut entries = self.read(older.start, older.end)?;
        entries.extend(recent);
        Ok(entries)
    }

    /// Reads the written entries in `start..end` from the segments, one
    /// read per run of entries in the same segment.
    fn read(&self, start: u64, end: u64) -> io::Result<Vec<Entry>> {
        let (locs, files) = {
            let index = self.index();
            let locs = index.locate(start, end);
            let files: Vec<_> = locs
                .iter()
                .map(|loc| index.files.get(&loc.segment).cloned())
                .collect();
            (locs, files)
        };
        let mut entries = Vec::with_capacity(locs.len());
        let mut from = 0;
        while from < locs.len() {
            let segment = locs[from].segment;
            let to = from + locs[from..].partition_point(|l| l.segment == segment);
            let file = files[from]
                .as_ref()
                .ok_or_else(|| io::Error::other(format!("log segment {segment} is gone")))?;
            read_run(file, &locs[from..to], &mut entries)?;
            from = to;
        }
        Ok(entries)
    }

    fn vote(&self) -> Option<Vote> {
        self.index().state.vote
    }
}

/// Reads the entries at `locs`, all in `file` and in order, with one read.
fn read_run(file: &std::fs::File, locs: &[Loc], entries: &mut Vec<Entry>) -> io::Result<()> {
    let (Some(first), Some(last)) = (locs.first(), locs.last()) else {
        return Ok(());
    };
    let end = last.offset + u64::from(last.len);
    let mut bytes = vec![0; usize::try_from(end - first.offset).map_err(io::Error::other)?];
    file.read_exact_at(&mut bytes, first.offset)?;
    for loc in locs {
        let at = usize::try_from(loc.offset - first.offset).map_err(io::Error::other)?;
        match record::decode(&bytes[at..at + loc.len as usize], loc.offset) {
            Found::Record(Record::Entry(entry), _) => entries.push(entry),
            other => {
                let why = format!(
                    "log segment {} offset {}: {other:?}",
                    loc.segment, loc.offset
                );
                return Err(io::Error::other(why));
            }
        }
    }
    Ok(())
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        self.entries(range)
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        Ok(self.vote())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> io::Result<Vec<Entry>> {
        self.reader.entries(range)
    }

    async fn read_vote(&mut self) -> io::Result<Option<Vote>> {
        Ok(self.reader.vote())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> io::Result<LogState<TypeConfig>> {
        let index = self.reader.index();
        Ok(LogState {
            last_purged_log_id: index.state.purged,
            last_log_id: index.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader.clone()
    }

    /// Always durable, `--nosync` or not: a forgotten vote can elect two
    /// leaders in one term.
    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        let vote = *vote;
        self.writer.call(|done| Change::Vote(vote, done)).await
    }

    /// Returns at once: the id is written about once every [`writer::LAZY_FLUSH`],
    /// with the group that is due then (or on its own when idle). It
    /// is never ahead of the log on disk: openraft only reports an index
    /// committed after this node's append of it has been flushed.
    async fn save_committed(&mut self, committed: Option<LogId>) -> io::Result<()> {
        self.writer.set_committed(committed);
        Ok(())
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        let pending = self.writer.pending_committed();
        Ok(pending.unwrap_or_else(|| self.reader.index().state.committed))
    }

    /// Makes the entries readable and queues them; the writer thread
    /// encodes them, writes and fsyncs them and only then calls `callback`.
    async fn append<I>(&mut self, entries: I, callback: IOFlushed<TypeConfig>) -> io::Result<()>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        self.reader
            .with_recent(|recent| entries.iter().for_each(|e| recent.push(e.clone())));
        self.writer.send(Change::Append(entries, callback));
        Ok(())
    }

    /// Drops the entries after `last` (all of them without it).
    async fn truncate_after(&mut self, last: Option<LogId>) -> io::Result<()> {
        let since = last.map_or(0, |l| l.index + 1);
        self.reader.with_recent(|recent| recent.truncate(since));
        self.writer.call(|done| Change::Truncate(last, done)).await
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        self.reader.with_recent(|recent| recent.purge(log_id.index));
        self.writer.call(|done| Change::Purge(log_id, done)).await?;
        tracing::info!("log purged up to {}", log_id.index);
        Ok(())
    }
}
