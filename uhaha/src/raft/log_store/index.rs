//! Where each live entry lies in the segment files, and the log's state
//! besides its entries. Opening the log rebuilds it by replaying every
//! record in order; the writer keeps it current by applying the records it
//! has just written, through the same [`Index::apply`].

use super::super::{Entry, LogId};
use super::record::{Record, State};
use std::borrow::Borrow;
use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::sync::Arc;

/// Where a record lies: its segment, and its offset and length there
/// (frame included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Loc {
    pub(super) segment: u64,
    pub(super) offset: u64,
    pub(super) len: u32,
}

/// The live entries' places, the log's state, and the open segment files.
#[derive(Default)]
pub(super) struct Index {
    pub(super) state: State,
    /// The index of the first entry in `locs`.
    first: u64,
    locs: VecDeque<Loc>,
    /// The log id of the last entry in `locs`, when there is one.
    last: Option<LogId>,
    /// The newest entry skipped by a gap: after a replay, a purge must
    /// cover it (segments whose entries were purged are deleted, so the
    /// entries of the oldest segment left may start after a gap that a
    /// later purge record explains). An uncovered gap is lost entries.
    gap_up_to: Option<u64>,
    /// The segment files, by sequence number, open for reading.
    pub(super) files: BTreeMap<u64, Arc<File>>,
}

impl Index {
    /// Applies a record found at `loc`.
    pub(super) fn apply<E: Borrow<Entry>>(&mut self, record: &Record<E>, loc: Loc) {
        match record {
            Record::Start(state) => {
                self.state.vote = state.vote;
                self.state.committed = state.committed;
                if let Some(purged) = state.purged {
                    self.purge(purged);
                }
            }
            Record::Entry(entry) => self.push(entry.borrow().log_id, loc),
            Record::Vote(vote) => self.state.vote = Some(*vote),
            Record::Committed(committed) => self.state.committed = *committed,
            Record::Truncate(kept) => self.truncate(*kept),
            Record::Purge(upto) => self.purge(*upto),
        }
    }

    /// The index the next entry should have.
    fn next(&self) -> u64 {
        self.first + self.locs.len() as u64
    }

    fn push(&mut self, log_id: LogId, loc: Loc) {
        let index = log_id.index;
        if self.state.purged.is_some_and(|p| index <= p.index) {
            return;
        }
        if index < self.next() {
            // Written over without a truncation record: openraft replaces
            // what follows an entry it appends.
            self.truncate_from(index);
        } else if index > self.next() {
            self.gap_up_to = Some(index - 1);
            self.locs.clear();
        }
        if self.locs.is_empty() {
            self.first = index;
        }
        self.locs.push_back(loc);
        self.last = Some(log_id);
    }

    fn truncate(&mut self, kept: Option<LogId>) {
        let from = kept.map_or(0, |k| k.index + 1);
        if from >= self.next() {
            return;
        }
        self.truncate_from(from);
        if !self.locs.is_empty() {
            self.last = kept;
        }
    }

    /// Drops the entries from `index` on. Entries a gap skipped from there
    /// on are gone too, so no purge needs to cover them any more.
    fn truncate_from(&mut self, index: u64) {
        if index <= self.first {
            self.locs.clear();
            self.first = index.max(self.purged_next());
        } else {
            let keep = usize::try_from(index - self.first).unwrap_or(usize::MAX);
            self.locs.truncate(keep);
        }
        self.gap_up_to = self
            .gap_up_to
            .zip(index.checked_sub(1))
            .map(|(g, i)| g.min(i));
    }

    /// The index after the last purged entry.
    fn purged_next(&self) -> u64 {
        self.state.purged.map_or(0, |p| p.index + 1)
    }

    fn purge(&mut self, upto: LogId) {
        if self.state.purged.is_some_and(|p| p.index >= upto.index) {
            return;
        }
        self.state.purged = Some(upto);
        let drop = (upto.index + 1).saturating_sub(self.first);
        let drop = usize::try_from(drop).unwrap_or(usize::MAX);
        self.locs.drain(..drop.min(self.locs.len()));
        self.first = self.first.max(upto.index + 1);
    }

    /// The last log id: the last entry's, or the purged one's without
    /// entries.
    pub(super) fn last_log_id(&self) -> Option<LogId> {
        if self.locs.is_empty() {
            self.state.purged
        } else {
            self.last
        }
    }

    /// The places of the entries in `start..end` that the files hold.
    pub(super) fn locate(&self, start: u64, end: u64) -> Vec<Loc> {
        let start = start.max(self.first);
        let end = end.min(self.next());
        (start..end)
            .map(|i| self.locs[usize::try_from(i - self.first).expect("an index in memory")])
            .collect()
    }

    /// The oldest segment that holds a live entry; without entries, none
    /// is needed but the one being written.
    pub(super) fn oldest_segment_in_use(&self) -> Option<u64> {
        self.locs.front().map(|loc| loc.segment)
    }

    /// After a replay: a committed log id past the last entry (written
    /// before it by an earlier version's race, or damaged) becomes the last
    /// log id, so that openraft does not look for entries the log lacks.
    pub(super) fn clamp_committed(&mut self) {
        let last = self.last_log_id();
        if self.state.committed.map(|c| c.index) > last.map(|l| l.index) {
            self.state.committed = last;
        }
    }

    /// After a replay: the entries that a gap skipped, if no purge covers
    /// them.
    pub(super) fn missing(&self) -> Option<(u64, u64)> {
        let gap = self.gap_up_to?;
        let from = self.purged_next();
        (from <= gap).then_some((from, gap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::{log_id, TypeConfig, Vote};

    fn entry(index: u64) -> Entry {
        openraft::testing::blank_ent::<TypeConfig>(1, 1, index)
    }

    fn at(segment: u64, offset: u64) -> Loc {
        Loc {
            segment,
            offset,
            len: 1,
        }
    }

    fn offsets(index: &Index) -> Vec<u64> {
        index.locate(0, u64::MAX).iter().map(|l| l.offset).collect()
    }

    #[test]
    fn appends_truncations_and_purges_are_followed() {
        let mut index = Index::default();
        for i in 0..10 {
            index.apply(&Record::Entry(entry(i)), at(1, i));
        }
        index.apply(&Record::<Entry>::Truncate(Some(log_id(1, 1, 6))), at(1, 0));
        assert_eq!(index.last_log_id(), Some(log_id(1, 1, 6)));
        // An entry written over drops what followed it.
        index.apply(&Record::Entry(entry(5)), at(2, 50));
        assert_eq!(offsets(&index), [0, 1, 2, 3, 4, 50]);
        index.apply(&Record::<Entry>::Purge(log_id(1, 1, 2)), at(2, 0));
        assert_eq!(offsets(&index), [3, 4, 50]);
        assert_eq!(index.oldest_segment_in_use(), Some(1));
        assert_eq!(index.locate(4, 6), [at(1, 4), at(2, 50)]);
        index.apply(&Record::<Entry>::Purge(log_id(1, 1, 9)), at(2, 0));
        assert_eq!(index.last_log_id(), Some(log_id(1, 1, 9)));
        assert_eq!(index.oldest_segment_in_use(), None);
        index.apply(&Record::Entry(entry(10)), at(3, 0));
        assert_eq!(index.missing(), None);
        index.apply(&Record::<Entry>::Vote(Vote::new(2, 1)), at(3, 0));
        assert_eq!(index.state.vote, Some(Vote::new(2, 1)));
    }

    #[test]
    fn a_gap_is_missing_entries_unless_a_purge_covers_it() {
        let mut index = Index::default();
        index.apply(&Record::Entry(entry(0)), at(1, 0));
        index.apply(&Record::Entry(entry(5)), at(2, 0));
        assert_eq!(index.missing(), Some((0, 4)));
        index.apply(&Record::<Entry>::Purge(log_id(1, 1, 3)), at(2, 0));
        assert_eq!(index.missing(), Some((4, 4)));
        index.apply(&Record::<Entry>::Purge(log_id(1, 1, 4)), at(2, 0));
        assert_eq!(index.missing(), None);
        assert_eq!(offsets(&index), [0]);
    }

    #[test]
    fn a_truncation_below_a_gap_narrows_it() {
        // Segments of entries 0 to 63 were deleted after a purge up to 20
        // and truncations (recorded in the segment left) went below them.
        let mut index = Index::default();
        index.apply(&Record::<Entry>::Start(State::default()), at(7, 0));
        index.apply(&Record::Entry(entry(64)), at(7, 1));
        index.apply(&Record::<Entry>::Truncate(Some(log_id(1, 1, 47))), at(7, 2));
        index.apply(&Record::<Entry>::Truncate(Some(log_id(1, 1, 29))), at(7, 3));
        assert_eq!(index.missing(), Some((0, 29)));
        index.apply(&Record::Entry(entry(30)), at(7, 4));
        assert_eq!(offsets(&index), [4]);
        index.apply(&Record::<Entry>::Purge(log_id(1, 1, 29)), at(7, 5));
        assert_eq!(index.missing(), None);
        assert_eq!(offsets(&index), [4]);
    }
}
