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

use super::{Entry, LogId, NodeId, TypeConfig, Vote};
use crate::codec;
use openraft::storage::{IOFlushed, LogState, RaftLogReader, RaftLogStorage};
use recent::RecentEntries;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;
use std::io;
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

/// The vote, as openraft 0.10 has it.
const VOTE: &str = "vote.v2";
/// The vote as openraft 0.9 had it, in logs written before; read once.
const VOTE_V1: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// Reads the log; what openraft's replication streams hold.
#[derive(Clone)]
pub struct LogReader {
    db: Arc<Database>,
    recent: Arc<Mutex<RecentEntries>>,
    /// The vote on disk, kept in memory: replication reads it before and
    /// after every batch of entries it reads.
    vote: Arc<Mutex<Option<Vote>>>,
}

/// The log store that openraft's core owns: reads directly, writes through
/// the log writer thread.
pub struct LogStore {
    reader: LogReader,
    writer: LogWriter,
}

impl LogStore {
    /// Opens (or creates) the log of node `id` at `path`. Without `sync`,
    /// appends are not fsynced and the writer makes them durable once a
    /// second.
    pub fn open(path: &Path, id: NodeId, sync: bool) -> Result<LogStore, String> {
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
            vote: Arc::default(),
        };
        let vote = match reader.read_meta::<Vote>(VOTE)? {
            Some(vote) => Some(vote),
            None => reader.read_meta::<VoteV1>(VOTE_V1)?.map(|v| v.upgrade(id)),
        };
        *reader.vote.lock().expect("vote lock") = vote;
        Ok(LogStore {
            writer: LogWriter::start(reader.clone(), sync)?,
            reader,
        })
    }
}

fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    codec::encode(value).map_err(io::Error::other)
}

/// The vote as openraft 0.9 stored it: the node voted for, if any, in a
/// term, and whether a quorum granted it.
#[derive(Deserialize)]
struct VoteV1 {
    leader_id: LeaderIdV1,
    committed: bool,
}

#[derive(Deserialize)]
struct LeaderIdV1 {
    term: u64,
    voted_for: Option<NodeId>,
}

impl VoteV1 {
    /// The same vote as openraft 0.10 has it, on node `me`. A term in which
    /// this node voted for nobody becomes one in which it voted for itself:
    /// it then grants no other vote in that term, which is safe.
    fn upgrade(self, me: NodeId) -> Vote {
        let node = self.leader_id.voted_for.unwrap_or(me);
        let mut vote = Vote::new(self.leader_id.term, node);
        vote.committed = self.committed;
        vote
    }
}

impl LogReader {
    fn with_recent(&self, f: impl FnOnce(&mut RecentEntries)) {
        f(&mut self.recent.lock().expect("recent entries lock"));
    }

    fn read_meta<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, String> {
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
        read()
    }

    fn last_entry_log_id(&self) -> io::Result<Option<LogId>> {
        let read = || -> Result<Option<LogId>, String> {
            let tx = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = tx.open_table(LOGS).map_err(|e| e.to_string())?;
            let Some((_, value)) = table.last().map_err(|e| e.to_string())? else {
                return Ok(None);
            };
            let entry: Entry = codec::decode(value.value()).map_err(|e| e.to_string())?;
            Ok(Some(entry.log_id))
        };
        read().map_err(io::Error::other)
    }

    /// The entries in `range`: the older ones from the file, the recent
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
        let mut entries = read().map_err(io::Error::other)?;
        entries.extend(recent);
        Ok(entries)
    }

    fn vote(&self) -> Option<Vote> {
        *self.vote.lock().expect("vote lock")
    }
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
        let last_purged_log_id: Option<LogId> = self
            .reader
            .read_meta(LAST_PURGED)
            .map_err(io::Error::other)?;
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
    async fn save_vote(&mut self, vote: &Vote) -> io::Result<()> {
        let bytes = encode(vote)?;
        let vote = *vote;
        self.writer
            .call(|done| Change::Vote(vote, bytes, done))
            .await
    }

    /// Returns at once: the id is written about once every [`writer::LAZY_FLUSH`],
    /// with the transaction that is due then (or on its own when idle). It
    /// is never ahead of the log on disk: openraft only reports an index
    /// committed after this node's append of it has been flushed.
    async fn save_committed(&mut self, committed: Option<LogId>) -> io::Result<()> {
        self.writer.set_committed(encode(&committed)?);
        Ok(())
    }

    async fn read_committed(&mut self) -> io::Result<Option<LogId>> {
        let committed = self.reader.read_meta::<Option<LogId>>(COMMITTED);
        Ok(committed.map_err(io::Error::other)?.flatten())
    }

    /// Makes the entries readable and queues them; the writer thread
    /// encodes them, commits and only then calls `callback`.
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
        self.writer.call(|done| Change::Truncate(since, done)).await
    }

    async fn purge(&mut self, log_id: LogId) -> io::Result<()> {
        self.reader.with_recent(|recent| recent.purge(log_id.index));
        self.writer.call(|done| Change::Purge(log_id, done)).await?;
        tracing::info!("log purged up to {}", log_id.index);
        Ok(())
    }
}
