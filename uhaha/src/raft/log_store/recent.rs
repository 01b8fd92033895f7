//! The newest entries of the log, in memory.
//!
//! openraft requires appended entries to be readable as soon as `append`
//! returns, long before the writer thread has committed them; and
//! replication sends each entry right after it is appended, so reading it
//! back from redb would decode every command again, once per follower, on
//! the thread that serves the clients. So `append` puts the entries here
//! first, and readers look here before the file.
//!
//! Entries the writer has not committed yet are never dropped: below the
//! oldest entry kept here, everything is in the file.

use super::super::Entry;
use openraft::EntryPayload;
use std::collections::VecDeque;
use std::ops::{Bound, RangeBounds};

/// Most entries and bytes (as counted by [`entry_size`]) kept once they
/// are written: enough for the entries in flight, so that an idle node does
/// not hold much.
const KEEP_ENTRIES: usize = 256;
const KEEP_BYTES: usize = 4 << 20;

/// The tail of the log: what the file holds plus what waits to be written.
#[derive(Default)]
pub(super) struct RecentEntries {
    entries: VecDeque<(Entry, usize)>,
    bytes: usize,
    /// The index after the newest entry the writer has written; entries
    /// before it may be dropped from memory. (An index after, so that
    /// nothing counts as written before anything is: not even entry 0.)
    written_next: u64,
}

impl RecentEntries {
    /// Adds an appended entry. An entry that does not follow the last one
    /// (the log restarts after an installed snapshot) starts afresh.
    pub(super) fn push(&mut self, entry: Entry) {
        let follows = self
            .entries
            .back()
            .is_none_or(|(last, _)| last.log_id.index + 1 == entry.log_id.index);
        if !follows {
            self.entries.clear();
            self.bytes = 0;
        }
        let size = entry_size(&entry);
        self.bytes += size;
        self.entries.push_back((entry, size));
        self.shrink();
    }

    /// Records that the writer committed the entries up to `index`.
    pub(super) fn written_up_to(&mut self, index: u64) {
        self.written_next = index + 1;
        self.shrink();
    }

    /// Drops written entries while over the limits.
    fn shrink(&mut self) {
        while self.entries.len() > KEEP_ENTRIES || self.bytes > KEEP_BYTES {
            match self.entries.front() {
                Some((first, size)) if first.log_id.index < self.written_next => {
                    self.bytes -= size;
                    self.entries.pop_front();
                }
                _ => break,
            }
        }
    }

    /// Drops the entries from index `since` on.
    pub(super) fn truncate(&mut self, since: u64) {
        while let Some((last, size)) = self.entries.back() {
            if last.log_id.index < since {
                break;
            }
            self.bytes -= size;
            self.entries.pop_back();
        }
    }

    /// Records that the writer committed a truncation from `since` on:
    /// entries appended there later are not written yet. The writer calls
    /// this, in the order of its changes, after [`Self::written_up_to`] for
    /// appends that the truncation undid.
    pub(super) fn unwritten_from(&mut self, since: u64) {
        self.written_next = self.written_next.min(since);
    }

    /// Drops the entries up to index `upto`.
    pub(super) fn purge(&mut self, upto: u64) {
        while let Some((first, size)) = self.entries.front() {
            if first.log_id.index > upto {
                break;
            }
            self.bytes -= size;
            self.entries.pop_front();
        }
    }

    /// Splits `range` into the part before the oldest entry kept here
    /// (which only the file holds; `None` if there is none) and the
    /// entries of the rest, which are all here.
    pub(super) fn split<RB: RangeBounds<u64>>(&self, range: &RB) -> (Option<Span>, Vec<Entry>) {
        let start = match range.start_bound() {
            Bound::Included(&i) => i,
            Bound::Excluded(&i) => i + 1,
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&i) => i.saturating_add(1),
            Bound::Excluded(&i) => i,
            Bound::Unbounded => u64::MAX,
        };
        let Some(first) = self.entries.front().map(|(e, _)| e.log_id.index) else {
            return (Some(Span { start, end }), Vec::new());
        };
        let before = (start < first).then(|| Span {
            start,
            end: end.min(first),
        });
        let skip = start.saturating_sub(first);
        let cached = self
            .entries
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take_while(|(e, _)| e.log_id.index < end)
            .map(|(e, _)| e.clone())
            .collect();
        (before, cached)
    }
}

/// A half-open range of log indexes, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: u64,
    pub(super) end: u64,
}

/// About how many bytes an entry holds in memory.
fn entry_size(entry: &Entry) -> usize {
    const OVERHEAD: usize = 64;
    match &entry.payload {
        EntryPayload::Normal(batch) => {
            let args: usize = batch
                .commands
                .iter()
                .flat_map(|c| c.iter().map(|a| a.len() + 32))
                .sum();
            OVERHEAD + args
        }
        _ => OVERHEAD,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{log_id, Batch, TypeConfig};

    fn blank_ent(term: u64, node: u64, index: u64) -> Entry {
        openraft::testing::blank_ent::<TypeConfig>(term, node, index)
    }

    fn normal(index: u64, commands: usize) -> Entry {
        let command = vec![bytes::Bytes::from_static(b"TICKET")];
        let batch = Batch {
            stamp: index,
            seed: index,
            commands: vec![command; commands].into(),
        };
        Entry {
            log_id: log_id(1, 1, index),
            payload: EntryPayload::Normal(batch),
        }
    }

    /// The span only the file holds and the indexes found here.
    fn split<RB: RangeBounds<u64>>(
        recent: &RecentEntries,
        range: RB,
    ) -> (Option<(u64, u64)>, Vec<u64>) {
        let (before, cached) = recent.split(&range);
        (
            before.map(|s| (s.start, s.end)),
            cached.iter().map(|e| e.log_id.index).collect(),
        )
    }

    #[test]
    fn ranges_split_into_file_and_memory() {
        let mut recent = RecentEntries::default();
        assert_eq!(split(&recent, 1..3), (Some((1, 3)), vec![]));
        for i in 3..=6 {
            recent.push(blank_ent(1, 1, i));
        }
        assert_eq!(split(&recent, 3..7), (None, vec![3, 4, 5, 6]));
        assert_eq!(split(&recent, 4..=5), (None, vec![4, 5]));
        assert_eq!(split(&recent, 5..5), (None, vec![]));
        assert_eq!(split(&recent, 5..), (None, vec![5, 6]));
        assert_eq!(split(&recent, 1..5), (Some((1, 3)), vec![3, 4]));
        assert_eq!(split(&recent, ..2), (Some((0, 2)), vec![]));
        assert_eq!(split(&recent, 8..9), (None, vec![]));
    }

    #[test]
    fn truncate_purge_and_gaps_are_followed() {
        let mut recent = RecentEntries::default();
        for i in 1..=5 {
            recent.push(normal(i, 2));
        }
        recent.truncate(4);
        assert_eq!(split(&recent, 1..6), (None, vec![1, 2, 3]));
        recent.purge(1);
        assert_eq!(split(&recent, 2..4), (None, vec![2, 3]));
        // An entry that does not follow the last one starts afresh.
        recent.push(normal(9, 1));
        assert_eq!(split(&recent, 9..10), (None, vec![9]));
        assert_eq!(split(&recent, 2..10), (Some((2, 9)), vec![9]));
        assert_eq!(recent.bytes, entry_size(&normal(9, 1)));
    }

    #[test]
    fn unwritten_entries_are_kept_beyond_the_limits() {
        let mut recent = RecentEntries::default();
        let count = KEEP_ENTRIES as u64 + 10;
        for i in 1..=count {
            recent.push(normal(i, 1));
        }
        assert_eq!(recent.entries.len() as u64, count);
        recent.written_up_to(5);
        assert_eq!(recent.entries.len() as u64, count - 5);
        recent.written_up_to(count);
        assert_eq!(recent.entries.len(), KEEP_ENTRIES);
        recent.push(normal(count + 1, KEEP_BYTES / 32));
        assert_eq!(recent.entries.len(), 1, "only the unwritten entry stays");
        // Once written, an entry over the byte limit goes at once.
        recent.written_up_to(count + 1);
        assert!(recent.entries.is_empty());
    }

    #[test]
    fn truncate_lowers_what_counts_as_written() {
        let mut recent = RecentEntries::default();
        for i in 1..=3 {
            recent.push(normal(i, 1));
        }
        recent.truncate(2);
        recent.written_up_to(3);
        recent.unwritten_from(2);
        assert_eq!(recent.written_next, 2);
    }

    #[test]
    fn entry_0_is_kept_until_written() {
        let mut recent = RecentEntries::default();
        for i in 0..=KEEP_ENTRIES as u64 + 10 {
            recent.push(normal(i, 1));
        }
        assert_eq!(split(&recent, 0..1), (None, vec![0]));
        recent.truncate(0);
        recent.unwritten_from(0);
        recent.push(normal(0, 1));
        assert_eq!(split(&recent, 0..1), (None, vec![0]));
    }
}
