//! The Raft log and vote, in one redb file per node, written by one thread.
//!
//! Every change goes to the log writer thread ([`writer`]), which commits
//! whatever is queued as one transaction with one fsync (group commit), and
//! only then tells openraft that entries are flushed or that the vote is
//! saved. openraft's own examples report a flush before the data is on
//! disk, which loses acknowledged writes and can elect two leaders in one
//! term after a crash; here the callback runs after the commit, never
//! before. Appended entries are readable at once from memory ([`recent`]),
//! as openraft requires, while they wait for the writer.
//!
//! With `--nosync` appends are committed without an fsync and the writer
//! makes everything durable once a second, so a crash of the machine (or
//! `kill -9`) may lose up to about a second of acknowledged writes.

mod recent;
#[cfg(test)]
mod tests;
mod writer;

use super::{Entry, LogId, NodeId, StorageResult, TypeConfig, Vote};
use crate::codec;
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, StorageError, StorageIOError};
use recent::RecentEntries;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::{Arc, Mutex};
use writer::{Change, LogWriter};

/// Log entries by index, each encoded by [`codec`].
const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// The vote, the committed log id and the last purged log id.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// redb's page cache. Its default (1 GiB) lets a node's memory grow with
/// the log's history; the log is written far more than read, and recent
/// entries are read from memory anyway ([`recent`]).
const CACHE_BYTES: usize = 8 << 20;

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// Reads the log; what openraft's replication streams hold.
#[derive(Clone)]
pub struct LogReader {
    db: Arc<Database>,
    recent: Arc<Mutex<RecentEntries>>,
}

/// The log store that openraft's core owns: reads directly, writes through
/// the log writer thread.
pub struct LogStore {
    reader: LogReader,
    writer: LogWriter,
}

impl LogStore {
    /// Opens (or creates) the log at `path`. Without `sync`, appends are not
    /// fsynced and the writer makes them durable once a second.
    pub fn open(path: &Path, sync: bool) -> Result<LogStore, String> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| format!("open {}: {e}", path.display()))?;
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        tx.open_table(LOGS).map_err(|e| e.to_string())?;
        tx.open_table(META).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        let reader = LogReader {
            db: Arc::new(db),
            recent: Arc::default(),
        };
        Ok(LogStore {
            writer: LogWriter::start(reader.clone(), sync)?,
            reader,
        })
    }
}

fn encode<T: Serialize>(value: &T) -> StorageResult<Vec<u8>> {
    codec::encode(value).map_err(|e| io_error(ErrorSubject::Store, ErrorVerb::Write, e))
}

fn io_error(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    e: impl ToString,
) -> StorageError<NodeId> {
    StorageError::IO {
        source: StorageIOError::new(subject, verb, openraft::AnyError::error(e.to_string())),
    }
}

impl LogReader {
    fn with_recent(&self, f: impl FnOnce(&mut RecentEntries)) {
        f(&mut self.recent.lock().expect("recent entries lock"));
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &str) -> StorageResult<Option<T>> {
        let read = || -> Result<Option<T>, String> {
            let tx = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = tx.open_table(META).map_err(|e| e.to_string())?;
            let Some(value) = table.get(key).map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            codec::decode(value.value())
                .map(Some)
                .map_err(|e| e.to_string())
        };
        read().map_err(|e| io_error(ErrorSubject::Store, ErrorVerb::Read, e))
    }

    fn last_entry_log_id(&self) -> StorageResult<Option<LogId>> {
        let read = || -> Result<Option<LogId>, String> {
            let tx = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = tx.open_table(LOGS).map_err(|e| e.to_string())?;
            let Some((_, value)) = table.last().map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            let entry: Entry = codec::decode(value.value()).map_err(|e| e.to_string())?;
            Ok(Some(entry.log_id))
        };
        read().map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, e))
    }

    /// The entries in `range`: the older ones from the file, the recent
    /// ones (including those still waiting for the writer) from memory.
    fn entries<RB: RangeBounds<u64>>(&self, range: RB) -> StorageResult<Vec<Entry>> {
        let (older, recent) = self
            .recent
            .lock()
            .expect("recent entries lock")
            .split(&range);
        let Some(older) = older else {
            return Ok(recent);
        };
        let read = || -> Result<Vec<Entry>, String> {
            let tx = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = tx.open_table(LOGS).map_err(|e| e.to_string())?;
            let mut entries = Vec::new();
            for item in table
                .range(older.start..older.end)
                .map_err(|e| e.to_string())?
            {
                let (_, value) = item.map_err(|e| e.to_string())?;
                entries.push(codec::decode(value.value()).map_err(|e| e.to_string())?);
            }
            Ok(entries)
        };
        let mut entries = read().map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, e))?;
        entries.extend(recent);
        Ok(entries)
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry>> {
        self.entries(range)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry>> {
        self.reader.entries(range)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId> = self.reader.read_meta(LAST_PURGED)?;
        let last_log_id = self.reader.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.reader.clone()
    }

    /// Always durable, `--nosync` or not: a forgotten vote can elect two
    /// leaders in one term.
    async fn save_vote(&mut self, vote: &Vote) -> StorageResult<()> {
        let bytes = encode(vote)?;
        self.writer
            .call(ErrorVerb::Write, |done| Change::Vote(bytes, done))
            .await
    }

    /// Returns the vote uncommitted. openraft reads it only at startup, and
    /// 0.9 resumes leadership at once when the stored vote is a committed
    /// one for this node: a leader killed and restarted before its
    /// followers noticed would serve linearizable reads from the commit
    /// index it restored, which is written lazily and may be older than
    /// writes it acknowledged (openraft#1511; uhaha-chaos seed 1, `kill`).
    /// An uncommitted vote for the same term makes it a follower that
    /// learns the commit index from a leader or holds an election, as any
    /// Raft node does after a restart.
    async fn read_vote(&mut self) -> StorageResult<Option<Vote>> {
        Ok(self.reader.read_meta::<Vote>(VOTE)?.map(|mut vote| {
            vote.committed = false;
            vote
        }))
    }

    /// Returns at once: the id is written about once every [`writer::LAZY_FLUSH`],
    /// with the transaction that is due then (or on its own when idle). It
    /// is never ahead of the log on disk: openraft only reports an index
    /// committed after this node's append of it has been flushed.
    async fn save_committed(&mut self, committed: Option<LogId>) -> StorageResult<()> {
        self.writer.set_committed(encode(&committed)?);
        Ok(())
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId>> {
        Ok(self.reader.read_meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    /// Makes the entries readable and queues them; the writer thread
    /// encodes them, commits and only then calls `callback`.
    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
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

    async fn truncate(&mut self, log_id: LogId) -> StorageResult<()> {
        self.reader
            .with_recent(|recent| recent.truncate(log_id.index));
        self.writer
            .call(ErrorVerb::Delete, |done| {
                Change::Truncate(log_id.index, done)
            })
            .await
    }

    async fn purge(&mut self, log_id: LogId) -> StorageResult<()> {
        self.reader.with_recent(|recent| recent.purge(log_id.index));
        self.writer
            .call(ErrorVerb::Delete, |done| Change::Purge(log_id, done))
            .await
    }
}
