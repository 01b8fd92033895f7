//! What a segment file holds after its header: records, each framed by its
//! length and a checksum, so that recovery can tell a record written whole
//! from one a crash cut short, and both from a damaged one.
//!
//! ```text
//! [body length: u32 LE][xxHash32 of the length: u32 LE][xxHash32 of the body: u32 LE][body]
//! ```
//!
//! The body is a [`Record`] as [`codec`] encodes it. The length has its own
//! checksum so that a damaged length is caught before it is trusted: a
//! length that runs past the end of the file then means a write cut short,
//! never a damaged record read as the end of the log.
//!
//! An entry of [`COMPRESS_FROM`] bytes or more is stored LZ4-compressed
//! (a block with its size before it) when that saves at least an eighth:
//! the length's top bit says so. Batches of similar commands (the same
//! command, keys that share a prefix, repeated values) shrink several
//! times; random bytes are stored as they are. Logs written before records
//! were compressed never have the bit set, so they read as they were.

use super::super::{Entry, LogId, Vote};
use crate::codec::{self, CodecError};
use serde::{Deserialize, Serialize};
use std::hash::Hasher;
use twox_hash::XxHash32;

/// Bytes before a record's body.
pub(super) const FRAME: usize = 12;

/// The smallest entry body worth compressing: below it, the few bytes
/// saved are rarely worth the time, and a small append costs a whole page
/// of the disk anyway.
pub(super) const COMPRESS_FROM: usize = 512;

/// The length's bit that marks a compressed body.
const COMPRESSED: u32 = 1 << 31;

/// One change to the log, as it is written. Replaying a segment's records
/// in order ([`super::index::Index::apply`]) rebuilds what the log was.
///
/// `E` is the entry: [`Entry`] when read, `&Entry` when written, which
/// encodes the same without a copy.
#[derive(Debug, Serialize, Deserialize)]
pub(super) enum Record<E = Entry> {
    /// What a segment starts with: the vote, committed and purged log ids
    /// at the moment it was opened, so that older segments can be deleted
    /// without losing them.
    Start(State),
    /// A log entry.
    Entry(E),
    /// The vote.
    Vote(Vote),
    /// The newest committed log id.
    Committed(Option<LogId>),
    /// The entries after this log id are gone (all of them if `None`).
    Truncate(Option<LogId>),
    /// The entries up to this log id are gone.
    Purge(LogId),
}

/// The log's state besides its entries.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub(super) struct State {
    pub(super) vote: Option<Vote>,
    pub(super) committed: Option<LogId>,
    pub(super) purged: Option<LogId>,
}

/// Appends `record`, framed (and compressed if that pays), to `buf`;
/// returns its length there.
pub(super) fn encode(record: &Record<&Entry>, buf: &mut Vec<u8>) -> Result<usize, CodecError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; FRAME]);
    codec::encode_into(record, buf)?;
    let compressed = matches!(record, Record::Entry(_)) && compress(buf, start + FRAME);
    let len = buf.len() - start;
    // The whole record's length must fit below the flag: the index keeps it
    // as a u32 too.
    let body_len = u32::try_from(len)
        .ok()
        .filter(|len| len & COMPRESSED == 0)
        .map(|_| (len - FRAME) as u32)
        .ok_or_else(|| CodecError::new(format!("a log record of {len} bytes")))?;
    let flag = if compressed { COMPRESSED } else { 0 };
    let body = (body_len | flag).to_le_bytes();
    let frame = [body, checksum(&body), checksum(&buf[start + FRAME..])];
    for (at, field) in frame.iter().enumerate() {
        buf[start + 4 * at..start + 4 * at + 4].copy_from_slice(field);
    }
    Ok(len)
}

/// Replaces the body at `buf[from..]` with its LZ4 block (size first) if
/// it is at least [`COMPRESS_FROM`] bytes and the block saves an eighth;
/// whether it did.
fn compress(buf: &mut Vec<u8>, from: usize) -> bool {
    let body = &buf[from..];
    if body.len() < COMPRESS_FROM {
        return false;
    }
    let packed = lz4_flex::block::compress_prepend_size(body);
    if packed.len() > body.len() - body.len() / 8 {
        return false;
    }
    buf.truncate(from);
    buf.extend_from_slice(&packed);
    true
}

fn checksum(bytes: &[u8]) -> [u8; 4] {
    let mut hasher = XxHash32::with_seed(0);
    hasher.write(bytes);
    (hasher.finish() as u32).to_le_bytes()
}

/// What is found at an offset of a segment.
#[derive(Debug)]
pub(super) enum Found {
    /// A whole record, `len` bytes long with its frame.
    Record(Record, usize),
    /// Nothing more: the end of the bytes.
    End,
    /// Not a whole record: a crash cut it short (it runs past the end, its
    /// frame is all zeros, or some of its 512-byte sectors are, which is how
    /// a write the disk never finished reads back).
    Torn,
    /// A record that is there but wrong: its checksum or its body.
    Damaged(String),
}

/// Reads the record at the start of `bytes`, which starts at `offset` in its
/// file.
pub(super) fn decode(bytes: &[u8], offset: u64) -> Found {
    if bytes.is_empty() {
        return Found::End;
    }
    let Some(frame) = bytes.get(..FRAME) else {
        return Found::Torn;
    };
    if checksum(&frame[..4]) != frame[4..8] {
        return if has_zero_sector(frame, offset) {
            Found::Torn
        } else {
            Found::Damaged("the record's length fails its checksum".into())
        };
    }
    let length = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes"));
    let body_len = (length & !COMPRESSED) as usize;
    let Some(framed) = bytes.get(..FRAME + body_len) else {
        return Found::Torn;
    };
    if checksum(&framed[FRAME..]) != frame[8..FRAME] {
        return if has_zero_sector(framed, offset) {
            Found::Torn
        } else {
            Found::Damaged("the record fails its checksum".into())
        };
    }
    let body = &framed[FRAME..];
    let decoded = if length & COMPRESSED == 0 {
        codec::decode(body).map_err(|e| e.to_string())
    } else {
        lz4_flex::block::decompress_size_prepended(body)
            .map_err(|e| format!("the record does not decompress: {e}"))
            .and_then(|body| codec::decode(&body).map_err(|e| e.to_string()))
    };
    match decoded {
        Ok(record) => Found::Record(record, framed.len()),
        Err(e) => Found::Damaged(e),
    }
}

/// Whether, of the 512-byte sectors of the file that `bytes` (at `offset`)
/// covers, the part of any one in `bytes` is all zeros: a write that a
/// crash left unfinished reads back as zeros in whole sectors (or blocks,
/// which are whole sectors too), counted from the start of the file, as
/// etcd's WAL checks its torn entries.
fn has_zero_sector(bytes: &[u8], offset: u64) -> bool {
    const SECTOR: u64 = 512;
    let mut at = 0;
    while at < bytes.len() {
        let in_sector = SECTOR - (offset + at as u64) % SECTOR;
        let end = bytes.len().min(at + in_sector as usize);
        if bytes[at..end].iter().all(|&b| b == 0) {
            return true;
        }
        at = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::log_id;

    fn framed(record: &Record<&Entry>) -> Vec<u8> {
        let mut buf = Vec::new();
        let len = encode(record, &mut buf).unwrap();
        assert_eq!(len, buf.len());
        buf
    }

    #[test]
    fn records_read_back_as_written() {
        let entry = openraft::testing::blank_ent::<crate::raft::TypeConfig>(2, 1, 9);
        let records = [
            Record::Entry(&entry),
            Record::Vote(Vote::new(3, 1)),
            Record::Truncate(Some(log_id(1, 1, 4))),
            Record::Start(State::default()),
        ];
        let mut buf = Vec::new();
        for record in &records {
            encode(record, &mut buf).unwrap();
        }
        let mut at = 0;
        let mut read = Vec::new();
        loop {
            match decode(&buf[at..], at as u64) {
                Found::Record(record, len) => {
                    read.push(record);
                    at += len;
                }
                Found::End => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(read.len(), 4);
        assert!(matches!(&read[0], Record::Entry(e) if e.log_id == entry.log_id));
        assert!(matches!(read[1], Record::Vote(v) if v == Vote::new(3, 1)));
    }

    /// An entry of `commands` SETs of `value`.
    fn sets(commands: usize, mut value: impl FnMut(usize) -> Vec<u8>) -> Entry {
        let commands: Vec<Vec<bytes::Bytes>> = (0..commands)
            .map(|i| {
                let key = format!("key:{i:012}");
                vec!["SET".into(), key.into(), value(i).into()]
            })
            .collect();
        let batch = crate::raft::Batch {
            stamp: 1,
            seed: 2,
            commands: commands.into(),
        };
        Entry {
            log_id: log_id(1, 1, 7),
            payload: openraft::EntryPayload::Normal(batch),
        }
    }

    fn read_back(bytes: &[u8]) -> Entry {
        match decode(bytes, 0) {
            Found::Record(Record::Entry(entry), len) if len == bytes.len() => entry,
            other => panic!("{other:?}"),
        }
    }

    fn is_compressed(bytes: &[u8]) -> bool {
        u32::from_le_bytes(bytes[..4].try_into().unwrap()) & COMPRESSED != 0
    }

    #[test]
    fn repetitive_entries_are_stored_compressed_and_random_ones_as_they_are() {
        let repeated = sets(64, |_| vec![b'x'; 100]);
        let plain = codec::encode(&Record::Entry(&repeated)).unwrap();
        let bytes = framed(&Record::Entry(&repeated));
        assert!(is_compressed(&bytes));
        assert!(
            bytes.len() * 4 < plain.len(),
            "{} of {}",
            bytes.len(),
            plain.len()
        );
        assert_eq!(format!("{:?}", read_back(&bytes)), format!("{repeated:?}"));

        let mut seed = 7u64;
        let random = sets(16, |_| {
            (0..100)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (seed >> 56) as u8
                })
                .collect()
        });
        let bytes = framed(&Record::Entry(&random));
        assert!(!is_compressed(&bytes));
        assert_eq!(format!("{:?}", read_back(&bytes)), format!("{random:?}"));

        let small = sets(1, |_| vec![b'x'; 100]);
        assert!(!is_compressed(&framed(&Record::Entry(&small))));
    }

    #[test]
    fn a_compressed_record_with_flipped_bits_is_damaged() {
        let bytes = framed(&Record::Entry(&sets(64, |_| vec![b'x'; 100])));
        for at in (0..bytes.len()).step_by(7) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x01;
            assert!(
                matches!(decode(&damaged, 0), Found::Damaged(_)),
                "flip at {at}"
            );
        }
    }

    #[test]
    fn short_and_zeroed_records_are_torn_and_flipped_bits_damaged() {
        let bytes = framed(&Record::Vote(Vote::new(3, 1)));
        for cut in 1..bytes.len() {
            assert!(
                matches!(decode(&bytes[..cut], 0), Found::Torn),
                "cut at {cut}"
            );
        }
        assert!(matches!(decode(&[0; 64], 0), Found::Torn));
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            assert!(
                matches!(decode(&damaged, 0), Found::Damaged(_)),
                "flip at {at}"
            );
        }
    }

    #[test]
    fn a_record_across_a_sector_boundary_with_its_second_sector_unwritten_is_torn() {
        let mut bytes = framed(&Record::Vote(Vote::new(3, 1)));
        let len = bytes.len();
        // The record starts 4 bytes before a sector boundary: its frame
        // crosses it, and what lies past it never reached the disk.
        bytes[4..].fill(0);
        assert!(matches!(decode(&bytes, 512 - 4), Found::Torn));
        // The same bytes at the start of a sector are damage.
        assert!(matches!(decode(&bytes, 0), Found::Damaged(_)), "{len}");
    }
}
