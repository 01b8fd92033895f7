//! Linearizability of a read/write register, one key at a time.
//!
//! Keys are independent (P-compositionality), so each key's operations are
//! checked alone. For one key, the search is Lowe's version of Wing and
//! Gong's algorithm, as porcupine implements it: the calls and returns are
//! one time-ordered, doubly linked list; the search repeatedly takes a call
//! whose operation the register model accepts in the current state,
//! removes it and its return from the list, and backtracks when it meets a
//! return whose operation it has not placed. Visited (placed set, state)
//! pairs are cached, so no configuration is explored twice.
//!
//! Outcomes: a read without a reply says nothing and is left out; a write
//! that certainly failed is left out (so a read of its value cannot be
//! explained); a write with an unknown outcome returns at infinity, so it
//! may take effect at any point after its call. One whose value nobody
//! read is left out too: placing it last explains it, whatever it did.

use super::{Verdict, Violation};
use crate::history::{Kind, Op, Outcome};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The most search steps for one key before the checker gives up.
const STEP_BUDGET: u64 = 200_000_000;

/// Checks every key's register history.
pub fn check(history: &[Op]) -> Verdict {
    let mut keys: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.iter().enumerate() {
        if matches!(op.kind, Kind::Write { .. } | Kind::Read { .. }) {
            keys.entry(&op.key).or_default().push(i);
        }
    }
    let mut violations = Vec::new();
    for (key, indices) in keys {
        let candidates = candidates(history, &indices);
        match search(&candidates) {
            Ok(()) => {}
            Err(Stop::GaveUp) => return Verdict::GaveUp { key: key.into() },
            Err(Stop::Stuck { order, culprit }) => {
                let op = &history[candidates[culprit].index];
                violations.push(Violation {
                    key: key.into(),
                    reason: format!(
                        "no order of the operations on key {key:?} explains {}",
                        describe(op)
                    ),
                    ops: indices,
                    order: order.iter().map(|&c| candidates[c].index).collect(),
                    culprits: vec![candidates[culprit].index],
                });
            }
        }
    }
    if violations.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid(violations)
    }
}

/// One operation as the search sees it.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    call: u64,
    ret: u64,
    step: Step,
    /// Its index in the history.
    index: usize,
}

/// A register operation over interned values (0 is nil).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Write(u32),
    Read(u32),
}

impl Step {
    /// The register model: the state after this step, if it can happen.
    fn apply(self, state: u32) -> Option<u32> {
        match self {
            Step::Write(v) => Some(v),
            Step::Read(v) => (v == state).then_some(state),
        }
    }
}

/// The operations of one key that constrain the search.
fn candidates<'a>(history: &'a [Op], indices: &[usize]) -> Vec<Candidate> {
    let read: HashSet<&str> = indices
        .iter()
        .filter_map(|&i| match (&history[i].kind, history[i].outcome) {
            (Kind::Read { value: Some(v) }, Outcome::Ok) => Some(v.as_str()),
            _ => None,
        })
        .collect();
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let mut id = |v: &'a str| -> u32 {
        let next = ids.len() as u32 + 1;
        *ids.entry(v).or_insert(next)
    };
    let mut out = Vec::new();
    for &i in indices {
        let op = &history[i];
        let step = match (&op.kind, op.outcome) {
            (Kind::Write { value }, Outcome::Ok) => Step::Write(id(value)),
            (Kind::Write { value }, Outcome::Unknown) if read.contains(value.as_str()) => {
                Step::Write(id(value))
            }
            (Kind::Read { value }, Outcome::Ok) => Step::Read(value.as_deref().map_or(0, &mut id)),
            _ => continue,
        };
        let ret = match op.outcome {
            Outcome::Ok => op.ret.unwrap_or(u64::MAX),
            _ => u64::MAX,
        };
        out.push(Candidate {
            call: op.call,
            ret,
            step,
            index: i,
        });
    }
    out
}

/// Why the search ended without a linearization.
enum Stop {
    /// The longest order found, and the operation it could not go past.
    Stuck {
        order: Vec<usize>,
        culprit: usize,
    },
    GaveUp,
}

const NIL: usize = usize::MAX;

/// The time-ordered list of calls and returns, with O(1) removal and
/// restoration ("dancing links").
struct Events {
    /// For each event: the candidate and whether it is the return.
    event: Vec<(usize, bool)>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_of: Vec<usize>,
    ret_of: Vec<usize>,
    head: usize,
}

impl Events {
    fn new(c: &[Candidate]) -> Events {
        let mut event: Vec<(usize, bool)> =
            (0..c.len()).flat_map(|i| [(i, false), (i, true)]).collect();
        // Calls before returns at the same instant: operations that touch
        // in time count as concurrent, the lenient reading.
        event.sort_by_key(|&(i, is_ret)| (if is_ret { c[i].ret } else { c[i].call }, is_ret));
        let n = event.len();
        let head = n;
        let mut next = vec![NIL; n + 1];
        let mut prev = vec![NIL; n + 1];
        // Event e follows event e - 1, and the first follows the head.
        for (e, p) in prev.iter_mut().enumerate().take(n) {
            *p = if e == 0 { head } else { e - 1 };
        }
        for e in 0..n {
            next[prev[e]] = e;
        }
        let mut call_of = vec![0; c.len()];
        let mut ret_of = vec![0; c.len()];
        for (e, &(i, is_ret)) in event.iter().enumerate() {
            if is_ret {
                ret_of[i] = e;
            } else {
                call_of[i] = e;
            }
        }
        Events {
            event,
            next,
            prev,
            call_of,
            ret_of,
            head,
        }
    }

    fn unlink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        if n != NIL {
            self.prev[n] = e;
        }
    }

    /// Takes an operation's call and return out of the list.
    fn lift(&mut self, op: usize) {
        self.unlink(self.call_of[op]);
        self.unlink(self.ret_of[op]);
    }

    /// Puts them back, in the reverse order.
    fn unlift(&mut self, op: usize) {
        self.relink(self.ret_of[op]);
        self.relink(self.call_of[op]);
    }
}

/// Searches for a linearization of one key's operations.
fn search(c: &[Candidate]) -> Result<(), Stop> {
    let mut events = Events::new(c);
    let words = c.len().div_ceil(64);
    let mut placed = vec![0u64; words];
    let mut seen: HashSet<(Vec<u64>, u32)> = HashSet::new();
    let mut stack: Vec<(usize, u32)> = Vec::new();
    let mut best: (Vec<usize>, usize) = (Vec::new(), NIL);
    let mut state = 0u32;
    let mut e = events.next[events.head];
    let mut steps = 0u64;
    while events.next[events.head] != NIL {
        steps += 1;
        if steps > STEP_BUDGET {
            return Err(Stop::GaveUp);
        }
        let (op, is_ret) = events.event[e];
        if !is_ret {
            if let Some(after) = c[op].step.apply(state) {
                placed[op / 64] |= 1 << (op % 64);
                if seen.insert((placed.clone(), after)) {
                    stack.push((op, state));
                    state = after;
                    events.lift(op);
                    e = events.next[events.head];
                    continue;
                }
                placed[op / 64] &= !(1 << (op % 64));
            }
            e = events.next[e];
        } else {
            if stack.len() >= best.0.len() {
                best = (stack.iter().map(|&(op, _)| op).collect(), op);
            }
            let Some((top, before)) = stack.pop() else {
                return Err(Stop::Stuck {
                    order: best.0,
                    culprit: best.1,
                });
            };
            state = before;
            placed[top / 64] &= !(1 << (top % 64));
            events.unlift(top);
            e = events.next[events.call_of[top]];
        }
    }
    Ok(())
}

/// One operation in words, for the verdict.
fn describe(op: &Op) -> String {
    match &op.kind {
        Kind::Write { value } => format!("the write of {value:?} by client {}", op.client),
        Kind::Read { value: Some(v) } => format!("the read of {v:?} by client {}", op.client),
        Kind::Read { value: None } => format!("the read of nil by client {}", op.client),
        Kind::Incr { value } => format!("the increment to {value:?} by client {}", op.client),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history built by hand: (client, kind, call, return, outcome).
    fn history(ops: &[(u32, Kind, u64, Option<u64>, Outcome)]) -> Vec<Op> {
        ops.iter()
            .map(|(client, kind, call, ret, outcome)| Op {
                client: *client,
                key: "k".into(),
                kind: kind.clone(),
                call: *call,
                ret: *ret,
                outcome: *outcome,
                node: String::new(),
                error: None,
            })
            .collect()
    }

    fn w(v: &str) -> Kind {
        Kind::Write { value: v.into() }
    }

    fn r(v: Option<&str>) -> Kind {
        Kind::Read {
            value: v.map(Into::into),
        }
    }

    use Outcome::{Fail, Ok as Acked, Unknown};

    fn invalid(h: &[Op]) -> Violation {
        match check(h) {
            Verdict::Invalid(mut v) => v.remove(0),
            other => panic!("expected a violation, got {other:?}"),
        }
    }

    #[test]
    fn sequential_writes_and_reads_are_linearizable() {
        let h = history(&[
            (0, r(None), 0, Some(1), Acked),
            (0, w("a"), 2, Some(3), Acked),
            (1, r(Some("a")), 4, Some(5), Acked),
            (1, w("b"), 6, Some(7), Acked),
            (0, r(Some("b")), 8, Some(9), Acked),
        ]);
        assert_eq!(check(&h), Verdict::Valid);
    }

    #[test]
    fn overlapping_operations_may_take_effect_in_either_order() {
        // Two writes overlap; reads after both see either, but consistently:
        // "b" then "a" means b took effect first.
        let h = history(&[
            (0, w("a"), 0, Some(10), Acked),
            (1, w("b"), 1, Some(9), Acked),
            (2, r(Some("b")), 2, Some(3), Acked),
            (2, r(Some("a")), 11, Some(12), Acked),
            (3, r(Some("a")), 13, Some(14), Acked),
        ]);
        assert_eq!(check(&h), Verdict::Valid);
    }

    #[test]
    fn a_write_with_unknown_outcome_may_take_effect_late_or_never() {
        let late = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (1, w("x"), 2, None, Unknown),
            (0, r(Some("a")), 3, Some(4), Acked),
            (0, r(Some("x")), 100, Some(101), Acked),
        ]);
        assert_eq!(check(&late), Verdict::Valid);
        let never = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (1, w("x"), 2, None, Unknown),
            (0, r(Some("a")), 100, Some(101), Acked),
        ]);
        assert_eq!(check(&never), Verdict::Valid);
    }

    #[test]
    fn reads_without_replies_say_nothing() {
        let h = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (1, r(None), 2, None, Unknown),
            (1, r(None), 3, None, Fail),
        ]);
        assert_eq!(check(&h), Verdict::Valid);
    }

    #[test]
    fn a_stale_read_is_rejected() {
        let h = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (0, w("b"), 2, Some(3), Acked),
            (1, r(Some("a")), 4, Some(5), Acked),
        ]);
        let v = invalid(&h);
        assert_eq!(v.culprits, [2], "the stale read: {v:?}");
        assert_eq!(v.order, [0, 1]);
    }

    #[test]
    fn a_lost_acknowledged_write_is_rejected() {
        // "b" was acknowledged, then a read long after sees "a" again.
        let h = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (1, w("b"), 2, Some(3), Acked),
            (0, r(Some("b")), 4, Some(5), Acked),
            (2, r(Some("a")), 6, Some(7), Acked),
        ]);
        invalid(&h);
        // Also when nobody read "b" before: the final read misses it.
        let h = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (1, w("b"), 2, Some(3), Acked),
            (2, r(Some("a")), 6, Some(7), Acked),
        ]);
        invalid(&h);
    }

    #[test]
    fn a_read_of_a_value_never_written_is_rejected() {
        let h = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (1, r(Some("zzz")), 2, Some(3), Acked),
        ]);
        invalid(&h);
        // A write that certainly failed cannot be read either.
        let h = history(&[
            (0, w("a"), 0, Some(1), Fail),
            (1, r(Some("a")), 2, Some(3), Acked),
        ]);
        invalid(&h);
    }

    #[test]
    fn a_read_that_goes_back_in_time_is_rejected() {
        // Concurrent with the write, one reader sees the new value and a
        // later reader the old one: a new-old inversion.
        let h = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (1, w("b"), 2, Some(20), Acked),
            (2, r(Some("b")), 3, Some(4), Acked),
            (3, r(Some("a")), 5, Some(6), Acked),
        ]);
        invalid(&h);
    }

    #[test]
    fn keys_are_checked_apart() {
        let mut h = history(&[
            (0, w("a"), 0, Some(1), Acked),
            (0, r(Some("a")), 2, Some(3), Acked),
        ]);
        let mut other = history(&[(1, r(None), 2, Some(3), Acked)]);
        other[0].key = "j".into();
        h.extend(other);
        assert_eq!(check(&h), Verdict::Valid);
    }

    #[test]
    fn many_concurrent_clients_stay_fast() {
        // 8 clients, 2000 operations, each overlapping its neighbours: a
        // linearizable history the cache keeps cheap.
        let mut ops = Vec::new();
        let mut last = None;
        for i in 0..2000u64 {
            let client = (i % 8) as u32;
            let value = format!("v{i}");
            if i % 2 == 0 {
                ops.push((client, w(&value), i * 10, Some(i * 10 + 35), Acked));
                last = Some(value);
            } else {
                // Reads after the previous write returned see it.
                ops.push((
                    client,
                    r(last.as_deref()),
                    i * 10 + 30,
                    Some(i * 10 + 31),
                    Acked,
                ));
            }
        }
        let h = history(&ops);
        assert_eq!(check(&h), Verdict::Valid);
    }
}
