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

use super::super::{Entry, LogId, Vote};
use crate::codec::{self, CodecError};
use serde::{Deserialize, Serialize};
use std::hash::Hasher;
use twox_hash::XxHash32;

/// Bytes before a record's body.
pub(super) const FRAME: usize = 12;

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

/// Appends `record`, framed, to `buf`; returns its length there.
pub(super) fn encode(record: &Record<&Entry>, buf: &mut Vec<u8>) -> Result<usize, CodecError> {
    let start = buf.len();
    buf.extend_from_slice(&[0; FRAME]);
    codec::encode_into(record, buf)?;
    let len = buf.len() - start;
    // The whole record's length must fit a u32 too: the index keeps it so.
    let body = u32::try_from(len)
        .map(|_| (len - FRAME) as u32)
        .map_err(|_| CodecError::new(format!("a log record of {len} bytes")))?
        .to_le_bytes();
    let frame = [body, checksum(&body), checksum(&buf[start + FRAME..])];
    for (at, field) in frame.iter().enumerate() {
        buf[start + 4 * at..start + 4 * at + 4].copy_from_slice(field);
    }
    Ok(len)
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
    let body_len = u32::from_le_bytes(frame[..4].try_into().expect("4 bytes")) as usize;
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
    match codec::decode(&framed[FRAME..]) {
        Ok(record) => Found::Record(record, framed.len()),
        Err(e) => Found::Damaged(e.to_string()),
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
