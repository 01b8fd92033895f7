//! The segment files: `<seq>.log` in the log's directory, numbered from 1,
//! each a header followed by [`record`]s. Only the newest is written to;
//! older ones are read, and deleted once a purge leaves no live entry in
//! them.
//!
//! A new segment is written in full under a temporary name, fsynced and
//! renamed, so that a segment file always has its header and its
//! [`Record::Start`]: a crash during a rotation leaves either the old
//! segment as the last one, or the new one whole.
//!
//! The newest segment may end in zeros: the writer makes the file longer
//! than what it holds before it appends (see [`Active::make_room`]), and
//! reading it back stops at the first of those zeros. A segment is trimmed
//! to what it holds before the next one starts.

use super::crash_point::crash_point;
use super::index::{Index, Loc};
use super::record::{self, Found, Record, State};
use super::LogError;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What every segment file starts with: the format's name and version.
pub(super) const MAGIC: &[u8; 8] = b"uhalog\x00\x01";

const SUFFIX: &str = ".log";
const TEMPORARY: &str = ".log.tmp";

/// The segment being written.
pub(super) struct Active {
    pub(super) seq: u64,
    pub(super) file: Arc<File>,
    /// The length of what it holds; the next record goes there.
    pub(super) len: u64,
    /// Its length with nothing written since it was opened.
    pub(super) opened_len: u64,
    /// The file's length: what it holds and the zeros after it.
    pub(super) size: u64,
}

/// How far past what it holds the writer lengthens a segment at a time.
const ROOM: u64 = 1 << 20;

impl Active {
    /// Makes the file (in directory `dir`) at least `end` bytes long, by
    /// [`ROOM`] more at a time, before records are written up to `end`.
    ///
    /// Why: `fdatasync` after an append that lengthens the file must also
    /// write the file's new size, a second write and wait on every append.
    /// Within the file's length it need not. Measured on this project's
    /// ext4 disk (200-byte appends, each fsynced): 96 us and 36 us of CPU
    /// per append within the length against 145 us and 58 us past it. The
    /// file grows with a hole (`set_len`), so nothing more is written, and
    /// the zeros read back as the end of the segment.
    pub(super) fn make_room(&mut self, end: u64, dir: &Path) -> Result<(), LogError> {
        if end > self.size {
            let size = end + ROOM;
            self.file
                .set_len(size)
                .map_err(|source| LogError::io("lengthen", path(dir, self.seq), source))?;
            self.size = size;
        }
        Ok(())
    }

    /// Gives back the room past what the segment holds, durably, before
    /// the next segment starts: zeros are the end of the newest segment
    /// only, and in an older one they are damage.
    pub(super) fn trim(&mut self, dir: &Path) -> Result<(), LogError> {
        if self.size > self.len {
            self.file
                .set_len(self.len)
                .and_then(|()| self.file.sync_all())
                .map_err(|source| LogError::io("trim", path(dir, self.seq), source))?;
            self.size = self.len;
        }
        Ok(())
    }
}

pub(super) fn path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}{SUFFIX}"))
}

/// Writes segment `seq`, starting with `state`, and makes it durable.
pub(super) fn create(dir: &Path, seq: u64, state: State) -> Result<Active, LogError> {
    let path = path(dir, seq);
    let temporary = path.with_extension(&TEMPORARY[1..]);
    let io = |action| {
        let temporary = &temporary;
        move |source| LogError::io(action, temporary, source)
    };
    let mut bytes = MAGIC.to_vec();
    record::encode(&Record::Start(state), &mut bytes).map_err(LogError::Encode)?;
    let mut file = File::create(&temporary).map_err(io("create"))?;
    crash_point("rotate.created");
    file.write_all(&bytes).map_err(io("write"))?;
    crash_point("rotate.written");
    file.sync_all().map_err(io("fsync"))?;
    crash_point("rotate.synced");
    fs::rename(&temporary, &path).map_err(io("rename"))?;
    crash_point("rotate.renamed");
    sync_dir(dir)?;
    let file = open(&path)?;
    Ok(Active {
        seq,
        file: Arc::new(file),
        len: bytes.len() as u64,
        opened_len: bytes.len() as u64,
        size: bytes.len() as u64,
    })
}

/// Makes the directory's entries (created, renamed files) durable.
pub(super) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| LogError::io("fsync", dir, source))
}

fn open(path: &Path) -> Result<File, LogError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|source| LogError::io("open", path, source))
}

/// The segments in `dir`, oldest first. Temporary files that a crash left
/// behind (rotations that never finished) are removed.
fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let io = |source| LogError::io("read", dir, source);
    let mut segments = Vec::new();
    for item in fs::read_dir(dir).map_err(io)? {
        let path = item.map_err(io)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.ends_with(TEMPORARY) {
            fs::remove_file(&path).map_err(|source| LogError::io("remove", &path, source))?;
        } else if let Some(seq) = name.strip_suffix(SUFFIX).and_then(|s| s.parse().ok()) {
            segments.push((seq, path));
        }
    }
    segments.sort();
    Ok(segments)
}

/// Reads every segment in `dir` into an index, and opens the newest for
/// writing (creating the first when there is none).
///
/// A record that a crash cut short at the end of the newest segment was
/// never acknowledged: it is cut off. Zeros after the newest segment's
/// records are the room made for the next (see [`Active::make_room`]).
/// Anything else that is not a whole record is damage, and the log refuses
/// to open rather than skip it.
pub(super) fn recover(dir: &Path) -> Result<(Index, Active), LogError> {
    let segments = list(dir)?;
    if let Some(pair) = segments.windows(2).find(|w| w[1].0 != w[0].0 + 1) {
        return Err(LogError::LostSegment {
            dir: dir.into(),
            after: pair[0].0,
            before: pair[1].0,
        });
    }
    let mut index = Index::default();
    let mut newest = None;
    for (n, (seq, path)) in segments.iter().enumerate() {
        let last = n + 1 == segments.len();
        let file = open(path)?;
        let (len, size) = replay(&mut index, *seq, path, &file, last)?;
        let file = Arc::new(file);
        index.files.insert(*seq, file.clone());
        newest = Some(Active {
            seq: *seq,
            file,
            len,
            opened_len: len,
            size,
        });
    }
    if let Some((from, to)) = index.missing() {
        return Err(LogError::Missing {
            dir: dir.into(),
            from,
            to,
        });
    }
    index.clamp_committed();
    let active = match newest {
        Some(active) => active,
        None => {
            let active = create(dir, 1, State::default())?;
            index.files.insert(1, active.file.clone());
            active
        }
    };
    Ok((index, active))
}

/// Applies the records of segment `seq` to `index`; returns the length of
/// what it holds whole, and the file's length.
fn replay(
    index: &mut Index,
    seq: u64,
    path: &Path,
    file: &File,
    last: bool,
) -> Result<(u64, u64), LogError> {
    let mut bytes = Vec::new();
    (&*file)
        .read_to_end(&mut bytes)
        .map_err(|source| LogError::io("read", path, source))?;
    let damaged = |offset: usize, why: String| LogError::Damaged {
        path: path.into(),
        offset: offset as u64,
        why,
    };
    if !bytes.starts_with(MAGIC) {
        return Err(damaged(0, "not a uhaha log segment (no header)".into()));
    }
    let mut at = MAGIC.len();
    loop {
        match record::decode(&bytes[at..], at as u64) {
            Found::Record(record, len) => {
                let loc = Loc {
                    segment: seq,
                    offset: at as u64,
                    len: len as u32,
                };
                index.apply(&record, loc);
                at += len;
            }
            Found::End => return Ok((at as u64, bytes.len() as u64)),
            // Room made for records never written (or the rest of a
            // record of which nothing reached the disk).
            Found::Torn if last && bytes[at..].iter().all(|b| *b == 0) => {
                return Ok((at as u64, bytes.len() as u64))
            }
            Found::Torn if last => {
                tracing::warn!(
                    "{}: dropping {} bytes at offset {at} that a crash left unfinished",
                    path.display(),
                    bytes.len() - at
                );
                file.set_len(at as u64)
                    .and_then(|()| file.sync_all())
                    .map_err(|source| LogError::io("truncate", path, source))?;
                return Ok((at as u64, at as u64));
            }
            Found::Torn => {
                return Err(damaged(
                    at,
                    "a record cut short before the newest segment".into(),
                ))
            }
            Found::Damaged(why) => return Err(damaged(at, why)),
        }
    }
}
