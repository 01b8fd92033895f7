//! The Raft log and vote, in one redb file per node.
//!
//! Every append is one redb transaction, committed with an fsync before
//! openraft is told the entries are flushed; the vote is fsynced before
//! `save_vote` returns. openraft's own examples skip both, which loses
//! acknowledged writes and can elect two leaders in one term after a crash.
//!
//! With `--nosync` appends are committed without an fsync and a background
//! task makes everything durable once a second, so a crash of the machine
//! (or `kill -9`) may lose up to about a second of acknowledged writes.

use super::{Entry, LogId, NodeId, StorageResult, TypeConfig, Vote};
use crate::codec;
use openraft::storage::{LogFlushed, LogState, RaftLogReader, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, StorageError, StorageIOError};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Log entries by index, each encoded by [`codec`].
const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// The vote, the committed log id and the last purged log id.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const VOTE: &str = "vote";
const COMMITTED: &str = "committed";
const LAST_PURGED: &str = "last_purged";

/// The log store; clones share the database and serve as log readers.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    sync: bool,
}

impl LogStore {
    /// Opens (or creates) the log at `path`. Without `sync`, a background
    /// task makes the log durable once a second.
    pub fn open(path: &Path, sync: bool) -> Result<LogStore, String> {
        let db = Database::create(path).map_err(|e| format!("open {}: {e}", path.display()))?;
        let tx = db.begin_write().map_err(|e| e.to_string())?;
        tx.open_table(LOGS).map_err(|e| e.to_string())?;
        tx.open_table(META).map_err(|e| e.to_string())?;
        tx.commit().map_err(|e| e.to_string())?;
        let store = LogStore {
            db: Arc::new(db),
            sync,
        };
        if !sync {
            store.spawn_background_flush();
        }
        Ok(store)
    }

    fn spawn_background_flush(&self) {
        let db = Arc::downgrade(&self.db);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let Some(db) = db.upgrade() else { return };
                let flushed = tokio::task::spawn_blocking(move || {
                    let tx = db.begin_write()?;
                    tx.commit()?;
                    Ok::<_, redb::Error>(())
                })
                .await;
                if let Ok(Err(e)) = flushed {
                    tracing::warn!("log flush failed: {e}");
                }
            }
        });
    }

    /// Runs a write transaction on a blocking thread, durable or not.
    async fn write<F>(&self, durable: bool, verb: ErrorVerb, f: F) -> StorageResult<()>
    where
        F: FnOnce(&redb::WriteTransaction) -> Result<(), redb::Error> + Send + 'static,
    {
        let db = self.db.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut tx = db.begin_write()?;
            if !durable {
                tx.set_durability(Durability::None)
                    .map_err(|e| redb::Error::Corrupted(e.to_string()))?;
            }
            f(&tx)?;
            tx.commit()?;
            Ok::<_, redb::Error>(())
        })
        .await;
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(io_error(ErrorSubject::Logs, verb, e)),
            Err(e) => Err(io_error(ErrorSubject::Logs, verb, e)),
        }
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

    async fn write_meta<T: Serialize>(
        &self,
        key: &'static str,
        value: &T,
        durable: bool,
    ) -> StorageResult<()> {
        let bytes = encode(value)?;
        self.write(durable, ErrorVerb::Write, move |tx| {
            tx.open_table(META)?.insert(key, bytes.as_slice())?;
            Ok(())
        })
        .await
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

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry>> {
        let read = || -> Result<Vec<Entry>, String> {
            let tx = self.db.begin_read().map_err(|e| e.to_string())?;
            let table = tx.open_table(LOGS).map_err(|e| e.to_string())?;
            let mut entries = Vec::new();
            for item in table.range(range).map_err(|e| e.to_string())? {
                let (_, value) = item.map_err(|e| e.to_string())?;
                entries.push(codec::decode(value.value()).map_err(|e| e.to_string())?);
            }
            Ok(entries)
        };
        read().map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Read, e))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let last_purged_log_id: Option<LogId> = self.read_meta(LAST_PURGED)?;
        let last_log_id = self.last_entry_log_id()?.or(last_purged_log_id);
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    /// Always durable, `--nosync` or not: a forgotten vote can elect two
    /// leaders in one term.
    async fn save_vote(&mut self, vote: &Vote) -> StorageResult<()> {
        self.write_meta(VOTE, vote, true).await
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote>> {
        self.read_meta(VOTE)
    }

    /// Kept so that a restarted node applies its committed log at once.
    async fn save_committed(&mut self, committed: Option<LogId>) -> StorageResult<()> {
        self.write_meta(COMMITTED, &committed, false).await
    }

    async fn read_committed(&mut self) -> StorageResult<Option<LogId>> {
        Ok(self.read_meta::<Option<LogId>>(COMMITTED)?.flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let encoded = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index, encode(&e)?)))
            .collect::<StorageResult<Vec<_>>>()?;
        let result = self
            .write(self.sync, ErrorVerb::Write, move |tx| {
                let mut table = tx.open_table(LOGS)?;
                for (index, bytes) in &encoded {
                    table.insert(*index, bytes.as_slice())?;
                }
                Ok(())
            })
            .await;
        match &result {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        result
    }

    async fn truncate(&mut self, log_id: LogId) -> StorageResult<()> {
        self.write(true, ErrorVerb::Delete, move |tx| {
            tx.open_table(LOGS)?
                .retain_in(log_id.index.., |_, _| false)?;
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> StorageResult<()> {
        let marker = encode(&log_id)?;
        self.write(self.sync, ErrorVerb::Delete, move |tx| {
            tx.open_table(META)?
                .insert(LAST_PURGED, marker.as_slice())?;
            tx.open_table(LOGS)?
                .retain_in(..=log_id.index, |_, _| false)?;
            Ok(())
        })
        .await
    }
}
