//! Snapshot files: their format, and the directory that keeps the newest
//! few of them.
//!
//! A file is a small versioned header (the machine's clock and random state
//! and the Raft position it covers) followed by what the machine's captured
//! view saved (`Machine::capture`), compressed:
//!
//! ```text
//! "UHAHASNP"          8 bytes, the magic
//! version             u32 little-endian, 2
//! compression         u8: 0 none, 1 LZ4 frame
//! header length       u32 little-endian
//! header              codec-encoded Header
//! payload             the rest of the file, compressed
//! ```
//!
//! Version 1 files (no compression byte, the payload as it is) still load.
//! The payload is compressed with LZ4 as it streams to the file, so the
//! state is never in memory twice. LZ4 (lz4_flex, pure Rust) rather than
//! zstd: measured on this project's machines, zstd -1 compresses 1.2x to
//! 2.6x better (kvdb with redis-benchmark's values: 37x against 14x; with
//! random values 1.18x against 1.13x; timeseries 2.4x against 1.85x) but
//! 2.5x to 4.5x slower (170 against 776 MB/s on random values), and the
//! zstd crate builds the C library.
//!
//! The same bytes travel to a follower that installs the snapshot, come out
//! of `RAFT SNAPSHOT READ`, and go into `--restore`.

use crate::codec;
use crate::machine::Clock;
use crate::raft::SnapshotMeta;
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};

/// The first bytes of every snapshot file.
pub const MAGIC: &[u8; 8] = b"UHAHASNP";
/// The format version this code writes; it reads version 1 too.
pub const FORMAT_VERSION: u32 = 2;

/// How a file's payload is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None = 0,
    Lz4 = 1,
}

/// What a snapshot knows besides the machine's bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// The machine's clock and random generator.
    pub clock: Clock,
    /// The Raft position (last log id, membership).
    pub meta: SnapshotMeta,
}

impl Header {
    /// The snapshot's id (and file name): its position and its time.
    pub fn id(&self) -> String {
        let (term, index) = self
            .meta
            .last_log_id
            .map_or((0, 0), |l| (l.leader_id.term, l.index));
        new_id(term, index, &self.clock)
    }
}

/// Writes a snapshot file into `out`: the header, then what `payload`
/// writes, compressed as it goes. Returns the payload's size before
/// compression.
pub fn write_to(
    out: &mut dyn Write,
    header: &Header,
    payload: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<u64> {
    let head = codec::encode(header).map_err(io::Error::other)?;
    out.write_all(MAGIC)?;
    out.write_all(&FORMAT_VERSION.to_le_bytes())?;
    out.write_all(&[Compression::Lz4 as u8])?;
    out.write_all(&(head.len() as u32).to_le_bytes())?;
    out.write_all(&head)?;
    // The content checksum also tells a torn file from a whole one.
    let frame = lz4_flex::frame::FrameInfo::new().content_checksum(true);
    let mut lz4 = Counted::new(lz4_flex::frame::FrameEncoder::with_frame_info(frame, out));
    payload(&mut lz4)?;
    let size = lz4.count;
    lz4.inner.finish().map_err(io::Error::other)?;
    Ok(size)
}

/// A snapshot file's bytes.
#[cfg(test)]
pub fn encode(header: &Header, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_to(&mut out, header, |to| to.write_all(payload)).expect("writes to memory");
    out
}

/// Who wrote a snapshot file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// This project: the format above.
    Uhaha,
    /// Go uhaha: a gzip stream of `SNAP0001`, start, time and seed as
    /// little-endian i64s, then the machine's payload. It has no Raft
    /// position, so only `--restore` takes it.
    Go,
}

/// A snapshot file opened for reading.
pub struct Opened<'a> {
    /// What the file knows besides the machine's bytes.
    pub header: Header,
    /// Who wrote it.
    pub origin: Origin,
    /// The machine's bytes, decompressed as they are read.
    pub payload: Box<dyn BufRead + 'a>,
}

/// The first bytes of a gzip stream: Go uhaha's snapshot files.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens a snapshot file (ours, or Go uhaha's), reading its header.
pub fn open<'a>(mut from: impl BufRead + 'a) -> Result<Opened<'a>, String> {
    if from
        .fill_buf()
        .map_err(|e| e.to_string())?
        .starts_with(&GZIP_MAGIC)
    {
        return open_go(from);
    }
    let mut fixed = [0u8; 12];
    from.read_exact(&mut fixed)
        .map_err(|_| "not a uhaha snapshot: invalid snapshot signature")?;
    if &fixed[..8] != MAGIC {
        return Err("not a uhaha snapshot: invalid snapshot signature".into());
    }
    let version = u32::from_le_bytes(fixed[8..].try_into().expect("4 bytes"));
    let compression = match version {
        1 => Compression::None,
        2 => match read_array::<1>(&mut from)? {
            [0] => Compression::None,
            [1] => Compression::Lz4,
            [other] => return Err(format!("snapshot compression {other} is not supported")),
        },
        _ => {
            return Err(format!(
                "snapshot format version {version} is not supported (this node reads 1 and {FORMAT_VERSION})"
            ))
        }
    };
    let len = u32::from_le_bytes(read_array(&mut from)?) as usize;
    let mut head = Vec::new();
    (&mut from)
        .take(len as u64)
        .read_to_end(&mut head)
        .map_err(|e| e.to_string())?;
    if head.len() < len {
        return Err("snapshot header is truncated".into());
    }
    let header = codec::decode(&head).map_err(|e| format!("snapshot header: {e}"))?;
    let payload: Box<dyn BufRead + 'a> = match compression {
        Compression::None => Box::new(from),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(from)),
    };
    Ok(Opened {
        header,
        origin: Origin::Uhaha,
        payload,
    })
}

/// Opens a Go uhaha snapshot file; see [`Origin::Go`].
fn open_go<'a>(from: impl BufRead + 'a) -> Result<Opened<'a>, String> {
    let mut gzip = std::io::BufReader::new(flate2::bufread::GzDecoder::new(from));
    let head: [u8; 32] = read_array(&mut gzip)?;
    if &head[..8] != b"SNAP0001" {
        return Err("not a Go uhaha snapshot: invalid snapshot signature".into());
    }
    let int = |at: usize| i64::from_le_bytes(head[at..at + 8].try_into().expect("8 bytes"));
    let header = Header {
        clock: Clock::from_go(int(8), int(16), int(24)),
        meta: SnapshotMeta::default(),
    };
    Ok(Opened {
        header,
        origin: Origin::Go,
        payload: Box::new(gzip),
    })
}

/// Reads `N` bytes of a file's fixed part.
fn read_array<const N: usize>(from: &mut impl Read) -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    from.read_exact(&mut bytes)
        .map_err(|_| "snapshot header is truncated")?;
    Ok(bytes)
}

/// Reads a snapshot file's bytes into its header and payload.
#[cfg(test)]
pub fn decode(bytes: &[u8]) -> Result<(Header, Vec<u8>), String> {
    let mut opened = open(bytes)?;
    let mut payload = Vec::new();
    opened
        .payload
        .read_to_end(&mut payload)
        .map_err(|e| format!("snapshot payload: {e}"))?;
    Ok((opened.header, payload))
}

/// A reader or writer that counts the bytes that pass through it: the size
/// of a payload before compression.
pub struct Counted<T> {
    inner: T,
    /// The bytes read or written so far.
    pub count: u64,
}

impl<T> Counted<T> {
    /// Counts from zero.
    pub fn new(inner: T) -> Counted<T> {
        Counted { inner, count: 0 }
    }
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<R: BufRead> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.count += amt as u64;
        self.inner.consume(amt)
    }
}

/// A file that is fsynced after every few megabytes written, as Redis
/// writes its RDB and AOF files (`rdb-save-incremental-fsync`): the disk
/// takes a large snapshot in small steps instead of one burst at the end,
/// which would hold up the log's fsyncs behind it, and so the writes.
struct SyncingFile {
    file: std::fs::File,
    unsynced: usize,
}

impl SyncingFile {
    /// How much is written between two fsyncs.
    const STEP: usize = 4 << 20;

    fn new(file: std::fs::File) -> SyncingFile {
        SyncingFile { file, unsynced: 0 }
    }
}

impl Write for SyncingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.unsynced += n;
        if self.unsynced >= Self::STEP {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
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
fn new_id(term: u64, index: u64, clock: &Clock) -> String {
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

    /// Writes a snapshot's bytes durably; see [`SnapshotDir::write_with`].
    pub fn write(&self, id: &str, bytes: &[u8]) -> Result<(), String> {
        self.write_with(id, |file| file.write_all(bytes))
    }

    /// Writes a snapshot durably with `fill`: a temporary file, fsynced
    /// as it grows and at the end, renamed, and the directory fsynced.
    /// Then drops all but the newest few.
    pub fn write_with(
        &self,
        id: &str,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(), String> {
        let path = self
            .path(id)
            .ok_or_else(|| format!("invalid snapshot id {id:?}"))?;
        let tmp = path.with_extension("snap.tmp");
        let write = || -> io::Result<()> {
            let file = SyncingFile::new(std::fs::File::create(&tmp)?);
            let mut out = io::BufWriter::with_capacity(1 << 16, file);
            fill(&mut out)?;
            let file = out.into_inner().map_err(|e| e.into_error())?.file;
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

    /// The newest snapshot's id, if there is one.
    pub fn newest_id(&self) -> Option<String> {
        self.ids().into_iter().next()
    }

    /// Snapshot `id`'s file, buffered, to [`open`] it.
    pub fn reader(&self, id: &str) -> Result<io::BufReader<std::fs::File>, String> {
        let path = self.path(id).ok_or("invalid snapshot id")?;
        let file = std::fs::File::open(&path).map_err(|e| format!("snapshot {id}: {e}"))?;
        Ok(io::BufReader::with_capacity(1 << 16, file))
    }

    /// The snapshots on disk, newest first.
    pub fn list(&self) -> Vec<Listed> {
        self.ids()
            .into_iter()
            .filter_map(|id| {
                let size = std::fs::metadata(self.path(&id)?).ok()?.len();
                let header = open(self.reader(&id).ok()?).ok()?.header;
                Some(Listed {
                    id,
                    size,
                    timestamp: header.clock.now,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{log_id, Node, StoredMembership};
    use openraft::Membership;
    use std::collections::{BTreeMap, BTreeSet};

    fn header() -> Header {
        let mut clock = Clock::default();
        clock.advance(1_700_000_000_123_456_789, 42);
        let log_id = log_id(3, 1, 16421);
        let nodes = BTreeMap::from([(
            1,
            Node {
                addr: "127.0.0.1:11001".into(),
            },
        )]);
        let membership = Membership::new(vec![BTreeSet::from([1])], nodes).unwrap();
        let meta = SnapshotMeta {
            last_log_id: Some(log_id),
            last_membership: StoredMembership::new(Some(log_id), membership),
        };
        Header { clock, meta }
    }

    #[test]
    fn the_format_is_pinned() {
        let bytes = encode(&header(), b"payload");
        assert_eq!(&bytes[..8], b"UHAHASNP");
        assert_eq!(
            &bytes[8..12],
            &[2, 0, 0, 0],
            "format version 2, little-endian"
        );
        assert_eq!(bytes[12], 1, "the payload is an LZ4 frame");
        let len = u32::from_le_bytes(bytes[13..17].try_into().unwrap()) as usize;
        assert_eq!(
            &bytes[17 + len..17 + len + 4],
            &[0x04, 0x22, 0x4d, 0x18],
            "LZ4's frame magic"
        );
        let (back, payload) = decode(&bytes).unwrap();
        assert_eq!(&payload[..], b"payload");
        assert_eq!(back.clock.now, 1_700_000_000_123_456_789);
        assert_eq!(back.clock.start, 1_700_000_000_123_456_789);
        assert_eq!(back.id(), "3-16421-1700000000123");
        assert_eq!(back.meta.last_log_id.unwrap().index, 16421);
        // The header starts with the clock: start and now as varints.
        let head = &bytes[17..17 + len];
        assert_eq!(head[0], 0xfd, "bincode's varint marker for a u64 start");
        assert_eq!(&head[1..9], &1_700_000_000_123_456_789u64.to_le_bytes());
    }

    #[test]
    fn version_1_files_still_load() {
        let head = codec::encode(&header()).unwrap();
        let mut v1 = Vec::new();
        v1.extend_from_slice(MAGIC);
        v1.extend_from_slice(&1u32.to_le_bytes());
        v1.extend_from_slice(&(head.len() as u32).to_le_bytes());
        v1.extend_from_slice(&head);
        v1.extend_from_slice(b"payload");
        let (back, payload) = decode(&v1).unwrap();
        assert_eq!(&payload[..], b"payload");
        assert_eq!(back.meta.last_log_id.unwrap().index, 16421);
    }

    #[test]
    fn a_repetitive_payload_is_stored_small() {
        let payload = b"key:000000000001 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx".repeat(10_000);
        let bytes = encode(&header(), &payload);
        assert!(bytes.len() < payload.len() / 5, "{} bytes", bytes.len());
        assert_eq!(decode(&bytes).unwrap().1, &payload[..]);
    }

    #[test]
    fn bad_files_are_refused() {
        let good = encode(&header(), b"x");
        assert!(decode(b"SNAP0001........").is_err());
        assert!(decode(&good[..10]).is_err());
        let mut future = good.clone();
        future[8] = 3;
        assert!(decode(&future).unwrap_err().contains("version 3"));
        let mut unknown = good.clone();
        unknown[12] = 9;
        assert!(decode(&unknown).unwrap_err().contains("compression 9"));
        assert!(decode(&good[..20]).is_err(), "a truncated header");
        let mut torn = good.clone();
        torn.truncate(good.len() - 3);
        assert!(decode(&torn).is_err(), "a truncated payload");
    }

    /// A file as Go uhaha's `RAFT SNAPSHOT READ` returns it.
    fn go_file(start: i64, now: i64, seed: i64, payload: &[u8]) -> Vec<u8> {
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(b"SNAP0001").unwrap();
        for n in [start, now, seed] {
            gzip.write_all(&n.to_le_bytes()).unwrap();
        }
        gzip.write_all(payload).unwrap();
        gzip.finish().unwrap()
    }

    #[test]
    fn go_uhaha_files_open_with_their_clock() {
        let bytes = go_file(
            1_700_000_000_000_000_000,
            1_700_000_100_000_000_000,
            7,
            b"{}",
        );
        let mut opened = open(&bytes[..]).unwrap();
        assert_eq!(opened.origin, Origin::Go);
        assert_eq!(opened.header.clock.start, 1_700_000_000_000_000_000);
        assert_eq!(opened.header.clock.now, 1_700_000_100_000_000_000);
        assert_eq!(opened.header.meta.last_log_id, None);
        let mut payload = Vec::new();
        opened.payload.read_to_end(&mut payload).unwrap();
        assert_eq!(payload, b"{}");
        let mut other = go_file(1, 2, 3, b"");
        other.truncate(other.len() - 8);
        let mut torn = open(&other[..]).unwrap();
        assert!(
            torn.payload.read_to_end(&mut Vec::new()).is_err(),
            "gzip's checksum"
        );
        let not_snap = {
            let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gzip.write_all(&[b'x'; 40]).unwrap();
            gzip.finish().unwrap()
        };
        let err = open(&not_snap[..]).err().unwrap();
        assert!(err.contains("invalid snapshot signature"), "{err}");
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
            dir.write(&format!("1-{index}-0"), &encode(&header(), b"x"))
                .unwrap();
        }
        assert_eq!(dir.ids(), ["1-100-0", "1-50-0", "1-9-0"]);
        assert_eq!(dir.list()[0].id, "1-100-0");
        assert!(dir.read("../etc-1-2").is_err());
        assert!(dir.path("..").is_none());
        std::fs::remove_dir_all(tmp).unwrap();
    }
}
