//! The log store against openraft's storage suite, and what this store adds:
//! lazy writes that survive a reopen, and reads that span the file and the
//! entries in memory.

use super::*;
use crate::command::{ArgError, Args, CommandTable, Commands, Reply};
use crate::machine::{Ctx, Machine};
use crate::raft::snapshot_file::SnapshotDir;
use crate::raft::{log_id, Batch, StateMachine, StateMachineStore};
use openraft::testing::log::{StoreBuilder, Suite};
use openraft::StorageError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A machine without commands: the storage suite only applies blank and
/// membership entries.
#[derive(Default)]
struct Empty;

impl Machine for Empty {
    const NAME: &'static str = "empty";
    const VERSION: &'static str = "0";

    fn save(&self) -> Result<Vec<u8>, crate::error::SnapshotError> {
        Ok(Vec::new())
    }

    fn load(_: &[u8]) -> Result<Self, crate::error::SnapshotError> {
        Ok(Empty)
    }
}

impl Commands for Empty {
    const COMMANDS: &'static [crate::command::CommandSpec] = &[];

    fn check(_: usize, _: Args<'_>) -> Result<(), ArgError> {
        unreachable!("no commands")
    }

    fn write(&mut self, _: usize, _: &mut Ctx<'_>, _: Args<'_>) -> Result<Reply, ArgError> {
        unreachable!("no commands")
    }

    fn read(&self, _: usize, _: &Ctx<'_>, _: Args<'_>) -> Result<Reply, ArgError> {
        unreachable!("no commands")
    }
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "uhaha-log-store-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, TempDir> for Builder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachine), StorageError<TypeConfig>> {
        let dir = TempDir::new();
        let log = LogStore::open(&dir.0.join("raft.redb"), 1, true).unwrap();
        let table = Arc::new(CommandTable::new(Empty::COMMANDS));
        let snapshots = Arc::new(SnapshotDir::open(&dir.0.join("snapshots"), 2).unwrap());
        let machine = StateMachineStore::<Empty>::open(table, snapshots).unwrap();
        Ok((dir, log, machine.into()))
    }
}

#[tokio::test]
async fn passes_the_openraft_storage_suite() {
    Suite::test_all(Builder).await.unwrap();
}

#[tokio::test]
async fn vote_purge_and_committed_survive_a_reopen() {
    let dir = TempDir::new();
    let path = dir.0.join("raft.redb");
    let vote = Vote::new(3, 1);
    let committed = Some(log_id(2, 1, 7));
    {
        let mut log = LogStore::open(&path, 1, false).unwrap();
        log.save_vote(&vote).await.unwrap();
        log.purge(log_id(1, 1, 4)).await.unwrap();
        // Lazy: written when the store closes at the latest.
        log.save_committed(committed).await.unwrap();
    }
    let mut log = LogStore::open(&path, 1, false).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(vote));
    assert_eq!(log.read_committed().await.unwrap(), committed);
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 1, 4)));
}
fn normal(index: u64) -> Entry {
    let batch = Batch {
        stamp: index,
        seed: index,
        commands: vec![vec![bytes::Bytes::from_static(b"TICKET")]].into(),
    };
    Entry {
        log_id: log_id(1, 1, index),
        payload: openraft::EntryPayload::Normal(batch),
    }
}

/// Writes entries straight into the file, as the writer thread does.
fn write_to_file(log: &LogStore, indexes: std::ops::RangeInclusive<u64>) {
    let tx = log.reader.db.begin_write().unwrap();
    {
        let mut table = tx.open_table(LOGS).unwrap();
        for i in indexes {
            let bytes = codec::encode(&normal(i)).unwrap();
            table.insert(i, bytes.as_slice()).unwrap();
        }
    }
    tx.commit().unwrap();
}

#[tokio::test]
async fn reads_span_the_file_and_entries_waiting_for_the_writer() {
    let dir = TempDir::new();
    let mut log = LogStore::open(&dir.0.join("raft.redb"), 1, true).unwrap();
    write_to_file(&log, 1..=10);
    // Appended but not yet written: more than memory keeps once written.
    log.reader
        .with_recent(|recent| (11..=600).for_each(|i| recent.push(normal(i))));
    let entries = log.try_get_log_entries(1..601).await.unwrap();
    let indexes: Vec<u64> = entries.iter().map(|e| e.log_id.index).collect();
    assert_eq!(indexes, (1..=600).collect::<Vec<_>>());
    let tail = log.try_get_log_entries(590..).await.unwrap();
    assert_eq!(tail.len(), 11);
}

#[tokio::test]
async fn a_vote_of_openraft_0_9_is_read_once_and_replaced() {
    #[derive(Serialize)]
    struct LeaderIdV1 {
        term: u64,
        voted_for: Option<NodeId>,
    }
    #[derive(Serialize)]
    struct VoteV1 {
        leader_id: LeaderIdV1,
        committed: bool,
    }
    let dir = TempDir::new();
    let path = dir.0.join("raft.redb");
    let old = |term, voted_for, committed| VoteV1 {
        leader_id: LeaderIdV1 { term, voted_for },
        committed,
    };
    for (v1, now) in [
        (old(4, Some(2), true), Vote::new_committed(4, 2)),
        (old(5, None, false), Vote::new(5, 3)),
    ] {
        let _ = std::fs::remove_file(&path);
        {
            let log = LogStore::open(&path, 3, true).unwrap();
            let tx = log.reader.db.begin_write().unwrap();
            writer::put_meta(&tx, VOTE_V1, &codec::encode(&v1).unwrap()).unwrap();
            tx.commit().unwrap();
        }
        let mut log = LogStore::open(&path, 3, true).unwrap();
        assert_eq!(log.read_vote().await.unwrap(), Some(now));
        let newer = Vote::new(6, 1);
        log.save_vote(&newer).await.unwrap();
        drop(log);
        let mut log = LogStore::open(&path, 3, true).unwrap();
        assert_eq!(log.read_vote().await.unwrap(), Some(newer));
    }
}
