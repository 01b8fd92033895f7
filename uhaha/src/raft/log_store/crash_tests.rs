//! Crashes, torn writes and damage: what recovery keeps, what it cuts off,
//! and when it refuses to open.

use super::record::{self, Record};
use super::segment::MAGIC;
use super::tests::{indexes, segments, TempDir};
use super::*;
use crate::raft::{log_id, Batch};
use openraft::storage::RaftLogStorageExt;
use rand_core::{RngCore, SeedableRng};
use std::collections::VecDeque;
use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::{Duration, Instant};

/// An entry of `term` at `index`, carrying `size` random bytes of
/// command: stored as they are, not compressed, so that a record's bytes
/// are where the tests expect them.
fn entry(term: u64, index: u64, size: usize) -> Entry {
    let mut command = vec![0; size];
    rand_pcg::Pcg64::seed_from_u64(index).fill_bytes(&mut command);
    let batch = Batch {
        stamp: index,
        seed: index,
        commands: vec![vec![bytes::Bytes::from(command)]].into(),
    };
    Entry {
        log_id: log_id(term, 1, index),
        payload: openraft::EntryPayload::Normal(batch),
    }
}

/// A whole record, as the writer would append it.
fn framed(entry: &Entry) -> Vec<u8> {
    let mut bytes = Vec::new();
    record::encode(&Record::Entry(entry), &mut bytes).unwrap();
    bytes
}

/// Writes `bytes` where the next record of the newest segment in `dir`
/// would go (into the room made past its records), as a crash in the
/// middle of that write leaves it: only whole sectors of it reach the file,
/// the rest stays as it was (zeros). A disk writes a sector whole or not at
/// all, and the kernel stops the write of a killed process at a page.
fn leave_at_the_end(dir: &Path, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    const SECTOR: u64 = 512;
    let (_, active) = segment::recover(dir).unwrap();
    let end = (active.len + bytes.len() as u64) / SECTOR * SECTOR;
    let written = end.saturating_sub(active.len) as usize;
    active
        .file
        .write_all_at(&bytes[..written.min(bytes.len())], active.len)
        .unwrap();
}

/// What a write that a crash cut short can leave behind.
fn torn_tails() -> Vec<(&'static str, Vec<u8>)> {
    let whole = framed(&entry(1, 21, 2000));
    // Zeros over 1 KiB of the record cover a whole sector of the file
    // wherever the record starts.
    let mut unwritten_sector = whole.clone();
    unwritten_sector[512..1536].fill(0);
    vec![
        ("half a record", whole[..whole.len() / 2].to_vec()),
        ("half a frame", whole[..5].to_vec()),
        ("zeros", vec![0; 4096]),
        ("a sector never written", unwritten_sector),
    ]
}

#[tokio::test]
async fn a_torn_or_zeroed_tail_is_cut_off_and_the_log_goes_on() {
    for (tail, bytes) in torn_tails() {
        let dir = TempDir::new();
        {
            let mut log = LogStore::open(&dir.0, true, WalMetrics::default()).unwrap();
            log.blocking_append((0..=20).map(|i| entry(1, i, 10)))
                .await
                .unwrap();
        }
        leave_at_the_end(&dir.0, &bytes);
        let mut log = LogStore::open(&dir.0, true, WalMetrics::default()).unwrap();
        assert_eq!(
            indexes(&mut log, 0..).await,
            (0..=20).collect::<Vec<_>>(),
            "{tail}"
        );
        log.blocking_append((21..=30).map(|i| entry(1, i, 10)))
            .await
            .unwrap();
        drop(log);
        let mut log = LogStore::open(&dir.0, true, WalMetrics::default()).unwrap();
        assert_eq!(
            indexes(&mut log, 0..).await,
            (0..=30).collect::<Vec<_>>(),
            "{tail}"
        );
    }
}

/// Writes entries 0 to 199 in segments of 2 KiB.
async fn a_log_of_many_segments(dir: &Path) -> Vec<u64> {
    let mut log = LogStore::open_with(dir, true, 2048, WalMetrics::default()).unwrap();
    for i in 0..20 {
        log.blocking_append((i * 10..i * 10 + 10).map(|i| entry(1, i, 10)))
            .await
            .unwrap();
    }
    let seqs = segments(dir);
    assert!(seqs.len() >= 4, "{seqs:?}");
    seqs
}

fn flip_byte(path: &Path, offset: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset] ^= 0x10;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn damage_before_the_tail_refuses_to_open_and_says_where() {
    // A record in an older segment, and the first record of the newest one
    // (records follow it): both are damage, not a torn tail.
    for which in [1, usize::MAX] {
        let dir = TempDir::new();
        let seqs = a_log_of_many_segments(&dir.0).await;
        let seq = seqs[which.min(seqs.len() - 1)];
        let path = segment::path(&dir.0, seq);
        let offset = MAGIC.len() + 40;
        flip_byte(&path, offset);
        let Err(error) = LogStore::open_with(&dir.0, true, 2048, WalMetrics::default()) else {
            panic!("segment {seq} is damaged, yet the log opened");
        };
        assert!(
            matches!(&error, LogError::Damaged { path: p, .. } if *p == path),
            "{error}"
        );
        let said = error.to_string();
        assert!(
            said.contains(&path.display().to_string()) && said.contains("offset"),
            "{said}"
        );
    }
}

#[tokio::test]
async fn a_lost_segment_refuses_to_open() {
    // A segment between two others, or the oldest while its entries are
    // not purged.
    for which in [1, 0] {
        let dir = TempDir::new();
        let seqs = a_log_of_many_segments(&dir.0).await;
        std::fs::remove_file(segment::path(&dir.0, seqs[which])).unwrap();
        let error = LogStore::open_with(&dir.0, true, 2048, WalMetrics::default())
            .err()
            .unwrap();
        match which {
            1 => assert!(matches!(error, LogError::LostSegment { .. }), "{error}"),
            _ => assert!(
                matches!(error, LogError::Missing { from: 0, .. }),
                "{error}"
            ),
        }
    }
}

/// The steps of an append, a rotation and a purge where a process can die.
const CRASH_STEPS: &[&str] = &[
    "append.written",
    "append.synced",
    "rotate.created",
    "rotate.written",
    "rotate.synced",
    "rotate.renamed",
    "purge.deleted",
];

/// Where [`crash_child`] writes its log, and the indexes it was told are
/// flushed, one per line.
const CRASH_DIR: &str = "UHAHA_LOG_CRASH_DIR";

#[tokio::test]
async fn a_process_killed_at_any_step_keeps_what_was_acknowledged() {
    let test = "raft::log_store::crash_tests::crash_child";
    for step in CRASH_STEPS {
        for n in [1, 3, 8] {
            let dir = TempDir::new();
            let mut child = Command::new(std::env::current_exe().unwrap())
                .args([test, "--exact", "--nocapture", "--test-threads=1"])
                .env(crash_point::VAR, format!("{step}:{n}"))
                .env(CRASH_DIR, &dir.0)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(60);
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                assert!(Instant::now() < deadline, "{step}:{n}: the child hangs");
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            // SIGABRT: the crash point, not a panic or the end of the work.
            assert_eq!(status.signal(), Some(6), "{step}:{n}: {status}");
            check_after_crash(&dir.0, &format!("{step}:{n}")).await;
        }
    }
}

/// Opens the log a crashed child left and checks that every entry it was
/// told is flushed is there, and that the log takes more.
async fn check_after_crash(dir: &Path, case: &str) {
    let acked: Vec<u64> = std::fs::read_to_string(dir.join("acked"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let mut log = LogStore::open_with(&dir.join("log"), true, 2048, WalMetrics::default())
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    let state = log.get_log_state().await.unwrap();
    let first = state.last_purged_log_id.map_or(0, |p| p.index + 1);
    let next = state.last_log_id.map_or(0, |l| l.index + 1);
    let present = indexes(&mut log, 0..).await;
    assert_eq!(present, (first..next).collect::<Vec<_>>(), "{case}");
    if let Some(&newest) = acked.last() {
        assert!(
            next > newest,
            "{case}: acknowledged {newest}, recovered up to {next}"
        );
    }
    log.blocking_append([entry(2, next, 10)]).await.unwrap();
    drop(log);
    let mut log = LogStore::open_with(&dir.join("log"), true, 2048, WalMetrics::default()).unwrap();
    assert_eq!(indexes(&mut log, next..).await, [next], "{case}");
}

/// The crashing half of the test above: appends, purges and votes until
/// the armed crash point aborts it. Does nothing unless that test runs it.
#[tokio::test]
async fn crash_child() {
    let Some(dir) = std::env::var_os(CRASH_DIR).map(PathBuf::from) else {
        return;
    };
    let mut acked = std::fs::File::create(dir.join("acked")).unwrap();
    let mut log = LogStore::open_with(&dir.join("log"), true, 2048, WalMetrics::default()).unwrap();
    for i in 0..400u64 {
        log.blocking_append([entry(1, i, 50)]).await.unwrap();
        writeln!(acked, "{i}").unwrap();
        if i % 40 == 39 {
            log.save_vote(&Vote::new(i, 1)).await.unwrap();
            log.purge(log_id(1, 1, i - 30)).await.unwrap();
        }
    }
}

/// What the log should hold: openraft's view of it.
#[derive(Default, Debug)]
struct Model {
    entries: VecDeque<LogId>,
    purged: Option<LogId>,
    vote: Option<Vote>,
}

impl Model {
    fn next(&self) -> u64 {
        match (self.entries.back(), self.purged) {
            (Some(last), _) => last.index + 1,
            (None, Some(purged)) => purged.index + 1,
            (None, None) => 0,
        }
    }

    async fn check(&self, log: &mut LogStore, case: &str) {
        let state = log.get_log_state().await.unwrap();
        assert_eq!(state.last_purged_log_id, self.purged, "{case}");
        assert_eq!(
            state.last_log_id,
            self.entries.back().copied().or(self.purged),
            "{case}"
        );
        let entries = log.try_get_log_entries(0..).await.unwrap();
        let ids: Vec<LogId> = entries.iter().map(|e| e.log_id).collect();
        assert_eq!(ids, Vec::from(self.entries.clone()), "{case}");
        assert_eq!(log.read_vote().await.unwrap(), self.vote, "{case}");
    }
}

/// Random appends, truncations, purges and votes, with reopens and
/// crashes that leave a torn tail, checked against a model after each step.
#[tokio::test]
async fn recovery_matches_a_model_after_random_changes_and_crashes() {
    for seed in 0..30u64 {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let dir = TempDir::new();
        let segment_bytes = 512 + rng.next_u64() % 4096;
        let open =
            || LogStore::open_with(&dir.0, true, segment_bytes, WalMetrics::default()).unwrap();
        let mut log = open();
        let mut model = Model::default();
        let mut term = 1;
        for step in 0..80 {
            let case = format!("seed {seed} step {step}");
            let pick = |rng: &mut rand_pcg::Pcg64, n: u64| rng.next_u64() % n;
            match pick(&mut rng, 11) {
                0..=4 => {
                    let start = model.next();
                    let count = 1 + pick(&mut rng, 12);
                    let size = pick(&mut rng, 300) as usize;
                    let batch: Vec<Entry> = (start..start + count)
                        .map(|i| entry(term, i, size))
                        .collect();
                    model.entries.extend(batch.iter().map(|e| e.log_id));
                    log.blocking_append(batch).await.unwrap();
                }
                5 if !model.entries.is_empty() => {
                    let keep = pick(&mut rng, model.entries.len() as u64 + 1) as usize;
                    let kept = match keep {
                        0 => model.purged,
                        n => Some(model.entries[n - 1]),
                    };
                    model.entries.truncate(keep);
                    term += 1;
                    log.truncate_after(kept).await.unwrap();
                }
                6 if !model.entries.is_empty() => {
                    let upto = model.entries[pick(&mut rng, model.entries.len() as u64) as usize];
                    model.entries.retain(|id| id.index > upto.index);
                    model.purged = Some(upto);
                    log.purge(upto).await.unwrap();
                }
                7 => {
                    // A snapshot installed beyond the log's end.
                    let upto = log_id(term, 1, model.next() + pick(&mut rng, 5));
                    model.entries.clear();
                    model.purged = Some(upto);
                    log.purge(upto).await.unwrap();
                }
                8 => {
                    term += 1;
                    let vote = Vote::new(term, 1 + pick(&mut rng, 3));
                    model.vote = Some(vote);
                    log.save_vote(&vote).await.unwrap();
                }
                9 => {
                    drop(log);
                    log = open();
                }
                _ => {
                    drop(log);
                    let tails = torn_tails();
                    let (_, tail) = &tails[pick(&mut rng, tails.len() as u64) as usize];
                    leave_at_the_end(&dir.0, tail);
                    log = open();
                }
            }
            model.check(&mut log, &case).await;
        }
    }
}
