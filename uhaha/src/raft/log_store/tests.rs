//! The log store against openraft's storage suite, and what this store adds:
//! lazy writes that survive a reopen, reads that span the files and the
//! entries in memory, segments that rotate and go once purged.

use super::*;
use crate::command::{ArgError, Args, CommandTable, Commands, Reply};
use crate::error::SnapshotError;
use crate::machine::{Ctx, Machine};
use crate::raft::snapshot_file::SnapshotDir;
use crate::raft::{log_id, Batch, StateMachine, StateMachineStore};
use openraft::storage::RaftLogStorageExt;
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

    fn capture(&self) -> Result<Box<dyn crate::machine::CapturedView>, SnapshotError> {
        Ok(Box::new(Vec::new()))
    }

    fn load(_: &mut dyn std::io::BufRead) -> Result<Self, SnapshotError> {
        Ok(Empty)
    }

    fn load_go(_: &mut dyn std::io::BufRead) -> Result<Self, SnapshotError> {
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
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new() -> TempDir {
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
        let log = LogStore::open(&dir.0.join("log"), true, WalMetrics::default()).unwrap();
        let table = Arc::new(CommandTable::new(Empty::COMMANDS));
        let snapshots = Arc::new(SnapshotDir::open(&dir.0.join("snapshots"), 2).unwrap());
        let metrics = crate::metrics::Metrics::new(&table).snapshots.clone();
        let machine =
            StateMachineStore::<Empty>::open(table, snapshots, metrics, Default::default())
                .unwrap();
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
    let vote = Vote::new(3, 1);
    let committed = Some(log_id(1, 1, 7));
    {
        let mut log = LogStore::open(&dir.0, false, WalMetrics::default()).unwrap();
        log.save_vote(&vote).await.unwrap();
        log.blocking_append((0..=8).map(normal)).await.unwrap();
        log.purge(log_id(1, 1, 4)).await.unwrap();
        // Lazy: written when the store closes at the latest.
        log.save_committed(committed).await.unwrap();
    }
    let mut log = LogStore::open(&dir.0, false, WalMetrics::default()).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(vote));
    assert_eq!(log.read_committed().await.unwrap(), committed);
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 1, 4)));
    assert_eq!(state.last_log_id, Some(log_id(1, 1, 8)));
}

#[tokio::test]
async fn a_committed_id_waits_for_its_entry_to_be_written() {
    let dir = TempDir::new();
    {
        let mut log = LogStore::open(&dir.0, true, WalMetrics::default()).unwrap();
        log.blocking_append((0..=3).map(normal)).await.unwrap();
        // Committed on the leader's word, ahead of this node's log.
        log.save_committed(Some(log_id(1, 1, 5))).await.unwrap();
        assert_eq!(log.read_committed().await.unwrap(), Some(log_id(1, 1, 5)));
    }
    let mut log = LogStore::open(&dir.0, true, WalMetrics::default()).unwrap();
    let committed = log.read_committed().await.unwrap();
    assert!(committed <= Some(log_id(1, 1, 3)), "{committed:?}");
}

/// A log entry carrying one `TICKET` command.
pub(super) fn normal(index: u64) -> Entry {
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

/// The indexes of the entries in `range`.
pub(super) async fn indexes<RB>(log: &mut LogStore, range: RB) -> Vec<u64>
where
    RB: RangeBounds<u64> + Clone + Debug + Send,
{
    let entries = log.try_get_log_entries(range).await.unwrap();
    entries.iter().map(|e| e.log_id.index).collect()
}

#[tokio::test]
async fn reads_span_the_files_and_entries_waiting_for_the_writer() {
    let dir = TempDir::new();
    let mut log = LogStore::open(&dir.0, true, WalMetrics::default()).unwrap();
    log.blocking_append((0..=10).map(normal)).await.unwrap();
    // Appended but not yet written: more than memory keeps once written.
    log.reader
        .with_recent(|recent| (11..=600).for_each(|i| recent.push(normal(i))));
    assert_eq!(
        indexes(&mut log, 0..601).await,
        (0..=600).collect::<Vec<_>>()
    );
    assert_eq!(indexes(&mut log, 590..).await.len(), 11);
}

/// The segment files in `dir`, by sequence number.
pub(super) fn segments(dir: &Path) -> Vec<u64> {
    let mut seqs: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    seqs.sort();
    seqs
}

#[tokio::test]
async fn segments_rotate_and_go_once_purged() {
    let dir = TempDir::new();
    let mut log = LogStore::open_with(&dir.0, true, 4096, WalMetrics::default()).unwrap();
    for i in 0..50 {
        log.blocking_append((i * 10..i * 10 + 10).map(normal))
            .await
            .unwrap();
    }
    let before = segments(&dir.0);
    assert!(before.len() >= 5, "{before:?}");
    // Read back from the files alone, after a reopen.
    drop(log);
    let mut log = LogStore::open_with(&dir.0, true, 4096, WalMetrics::default()).unwrap();
    assert_eq!(
        indexes(&mut log, 0..500).await,
        (0..500).collect::<Vec<_>>()
    );
    log.purge(log_id(1, 1, 400)).await.unwrap();
    let after = segments(&dir.0);
    assert!(after.len() <= 3 && after[0] > 2, "{after:?}");
    assert_eq!(
        indexes(&mut log, 401..500).await,
        (401..500).collect::<Vec<_>>()
    );
    drop(log);
    let mut log = LogStore::open_with(&dir.0, true, 4096, WalMetrics::default()).unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 1, 400)));
    assert_eq!(state.last_log_id, Some(log_id(1, 1, 499)));
    assert_eq!(indexes(&mut log, 0..).await, (401..500).collect::<Vec<_>>());
}

/// Appends land within the file's length (see `Active::make_room`), so the
/// newest segment ends in zeros. They read back as its end, and appends
/// after a reopen go on after the last record, not after the zeros. An
/// older segment is trimmed before the next starts: zeros there are damage.
#[tokio::test]
async fn zeros_end_the_newest_segment_only() {
    let dir = TempDir::new();
    let open = || LogStore::open_with(&dir.0, true, 4096, WalMetrics::default());
    let mut log = open().unwrap();
    for i in 0..10 {
        log.blocking_append([normal(i)]).await.unwrap();
    }
    let newest = segment::path(&dir.0, *segments(&dir.0).last().unwrap());
    let size = std::fs::metadata(&newest).unwrap().len();
    assert!(
        size > 1 << 20,
        "the segment has room past its records: {size}"
    );
    drop(log);
    let mut log = open().unwrap();
    for i in 1..50 {
        log.blocking_append((i * 10..i * 10 + 10).map(normal))
            .await
            .unwrap();
    }
    drop(log);
    let mut log = open().unwrap();
    assert_eq!(indexes(&mut log, 0..).await, (0..500).collect::<Vec<_>>());
    drop(log);
    let older = segments(&dir.0);
    assert!(older.len() > 2, "{older:?}");
    let older = segment::path(&dir.0, older[1]);
    let trimmed = std::fs::metadata(&older).unwrap().len();
    assert!(trimmed < 4096, "a full segment gives its room back");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&older)
        .and_then(|f| f.set_len(trimmed + 8192))
        .unwrap();
    assert!(matches!(open(), Err(LogError::Damaged { .. })));
}
