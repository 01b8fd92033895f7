//! Snapshot files: their format, and the directory that keeps the newest
//! few of them.
//!
//! A file is a small versioned header (the machine's clock and random state
//! and the Raft position it covers) followed by the machine's own bytes
//! (`Machine::save`):
//!
//! ```text
//! "UHAHASNP"          8 bytes, the magic
//! version             u32 little-endian, 1
//! header length       u32 little-endian
//! header              codec-encoded Header
//! payload             the rest of the file
//! ```
//!
//! The same bytes travel to a follower that installs the snapshot, come out
//! of `RAFT SNAPSHOT READ`, and go into `--restore`.

use crate::codec;
use crate::machine::Clock;
use crate::raft::{Node, NodeId};
use openraft::SnapshotMeta;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first bytes of every snapshot file.
pub const MAGIC: &[u8; 8] = b"UHAHASNP";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// What a snapshot knows besides the machine's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// The machine's clock and random generator.
    pub clock: Clock,
    /// The Raft position (last log id, membership) and the snapshot's id.
    pub meta: SnapshotMeta<NodeId, Node>,
}

/// Writes a snapshot file's bytes.
pub fn encode(header: &Header, payload: &[u8]) -> Result<Vec<u8>, String> {
    let head = codec::encode(header).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(16 + head.len() + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(head.len() as u32).to_le_bytes());
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Reads a snapshot file's bytes into its header and payload.
pub fn decode(bytes: &[u8]) -> Result<(Header, &[u8]), String> {
    if bytes.len() < 16 || &bytes[..8] != MAGIC {
        return Err("not a uhaha snapshot: invalid snapshot signature".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(format!(
            "snapshot format version {version} is not supported (this node reads {FORMAT_VERSION})"
        ));
    }
    let len = u32::from_le_bytes(bytes[12..16].try_into().expect("4 bytes")) as usize;
    let head = bytes
        .get(16..16 + len)
        .ok_or("snapshot header is truncated")?;
    let header = codec::decode(head).map_err(|e| format!("snapshot header: {e}"))?;
    Ok((header, &bytes[16 + len..]))
}

/// A snapshot as `RAFT SNAPSHOT LIST` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// `<term>-<index>-<unix milliseconds of machine time>`.
    pub id: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The machine time it was taken at, in Unix nanoseconds.
    pub timestamp: u64,
}

/// The directory of a node's snapshot files.
pub struct SnapshotDir {
    dir: PathBuf,
    /// How many files it keeps (`--snapshot-keep`), at least one.
    keep: usize,
}

/// Whether a snapshot id has its only legal shape, `<n>-<n>-<n>`: the id
/// becomes a file name, so nothing else may reach the file system.
pub fn valid_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 20 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The id of a snapshot of the state at `meta`'s position and `clock`.
pub fn new_id(term: u64, index: u64, clock: &Clock) -> String {
    format!("{term}-{index}-{}", clock.now / 1_000_000)
}

impl SnapshotDir {
    /// Opens (and creates) `dir`, which keeps the newest `keep` snapshots,
    /// removing files a crash left half-written.
    pub fn open(dir: &Path, keep: usize) -> Result<SnapshotDir, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let dir = dir.canonicalize().map_err(|e| e.to_string())?;
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(SnapshotDir {
            dir,
            keep: keep.max(1),
        })
    }

    /// The file of snapshot `id`, which must be valid.
    pub fn path(&self, id: &str) -> Option<PathBuf> {
        valid_id(id).then(|| self.dir.join(format!("{id}.snap")))
    }

    /// Writes a snapshot durably: a temporary file, fsynced, renamed, and
    /// the directory fsynced. Then drops all but the newest few.
    pub fn write(&self, id: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self
            .path(id)
            .ok_or_else(|| format!("invalid snapshot id {id:?}"))?;
        let tmp = path.with_extension("snap.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| format!("write snapshot {}: {e}", path.display()))?;
        for old in self.ids().into_iter().skip(self.keep) {
            if let Some(path) = self.path(&old) {
                let _ = std::fs::remove_file(path);
            }
        }
        Ok(())
    }

    /// The ids of the snapshots on disk, newest (highest index) first.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<(u64, u64, String)> = std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()?
                            .strip_suffix(".snap")
                            .map(str::to_string)
                    })
                    .filter(|id| valid_id(id))
                    .map(|id| {
                        let mut n = id.split('-').map(|p| p.parse::<u64>().unwrap_or(0));
                        let (term, index) = (n.next().unwrap_or(0), n.next().unwrap_or(0));
                        (index, term, id)
                    })
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids.into_iter().rev().map(|(_, _, id)| id).collect()
    }

    /// The bytes of snapshot `id`.
    pub fn read(&self, id: &str) -> Result<Vec<u8>, String> {
        let path = self.path(id).ok_or("invalid snapshot id")?;
        std::fs::read(&path).map_err(|e| format!("snapshot {id}: {e}"))
    }

    /// The newest snapshot's bytes, if there is one.
    pub fn newest(&self) -> Result<Option<Vec<u8>>, String> {
        match self.ids().first() {
            Some(id) => self.read(id).map(Some),
            None => Ok(None),
        }
    }

    /// The snapshots on disk, newest first.
    pub fn list(&self) -> Vec<Listed> {
        self.ids()
            .into_iter()
            .filter_map(|id| {
                let bytes = self.read(&id).ok()?;
                let (header, _) = decode(&bytes).ok()?;
                Some(Listed {
                    id,
                    size: bytes.len() as u64,
                    timestamp: header.clock.now,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openraft::{CommittedLeaderId, LogId, Membership, StoredMembership};
    use std::collections::{BTreeMap, BTreeSet};

    fn header() -> Header {
        let mut clock = Clock::default();
        clock.advance(1_700_000_000_123_456_789, 42);
        let log_id = LogId::new(CommittedLeaderId::new(3, 1), 16421);
        let nodes = BTreeMap::from([(
            1,
            Node {
                addr: "127.0.0.1:11001".into(),
            },
        )]);
        let membership = Membership::new(vec![BTreeSet::from([1])], nodes);
        let meta = SnapshotMeta {
            last_log_id: Some(log_id),
            last_membership: StoredMembership::new(Some(log_id), membership),
            snapshot_id: new_id(3, 16421, &clock),
        };
        Header { clock, meta }
    }

    #[test]
    fn the_format_is_pinned() {
        let bytes = encode(&header(), b"payload").unwrap();
        assert_eq!(&bytes[..8], b"UHAHASNP");
        assert_eq!(
            &bytes[8..12],
            &[1, 0, 0, 0],
            "format version 1, little-endian"
        );
        let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        assert_eq!(bytes.len(), 16 + len + 7);
        assert!(bytes.ends_with(b"payload"));
        let (back, payload) = decode(&bytes).unwrap();
        assert_eq!(payload, b"payload");
        assert_eq!(back.clock.now, 1_700_000_000_123_456_789);
        assert_eq!(back.clock.start, 1_700_000_000_123_456_789);
        assert_eq!(back.meta.snapshot_id, "3-16421-1700000000123");
        assert_eq!(back.meta.last_log_id.unwrap().index, 16421);
        // The header starts with the clock: start and now as varints.
        let head = &bytes[16..16 + len];
        assert_eq!(head[0], 0xfd, "bincode's varint marker for a u64 start");
        assert_eq!(&head[1..9], &1_700_000_000_123_456_789u64.to_le_bytes());
    }

    #[test]
    fn bad_files_are_refused() {
        let good = encode(&header(), b"x").unwrap();
        assert!(decode(b"SNAP0001........").is_err());
        assert!(decode(&good[..10]).is_err());
        let mut future = good.clone();
        future[8] = 2;
        assert!(decode(&future).unwrap_err().contains("version 2"));
        assert!(decode(&good[..20]).is_err(), "a truncated header");
    }

    #[test]
    fn ids_are_validated() {
        assert!(valid_id("3-16421-1700000000123"));
        for bad in [
            "",
            "1-2",
            "1-2-3-4",
            "../1-2-3",
            "1-2-3/..",
            "a-b-c",
            "1--3",
            "1-2-3.snap",
        ] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_directory_keeps_the_newest_few() {
        let tmp = std::env::temp_dir().join(format!("uhaha-snap-test-{}", std::process::id()));
        let dir = SnapshotDir::open(&tmp, 3).unwrap();
        for index in [5, 50, 7, 100, 9] {
            dir.write(&format!("1-{index}-0"), &encode(&header(), b"x").unwrap())
                .unwrap();
        }
        assert_eq!(dir.ids(), ["1-100-0", "1-50-0", "1-9-0"]);
        assert_eq!(dir.list()[0].id, "1-100-0");
        assert!(dir.read("../etc-1-2").is_err());
        assert!(dir.path("..").is_none());
        std::fs::remove_dir_all(tmp).unwrap();
    }
}
