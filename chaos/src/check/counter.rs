//! The counter's rules: every acknowledged ticket is handed out once, and
//! a ticket asked for after another was acknowledged is greater than it
//! (real-time order). A lost acknowledged increment shows up as one of the
//! two: the counter hands the same number out again, or a later ticket is
//! not greater. The run ends with one more ticket taken after every fault
//! is healed, which must exceed every ticket acknowledged before it.

use super::{Verdict, Violation};
use crate::history::{Kind, Op, Outcome};
use std::collections::HashMap;

/// Checks the increments of a history.
pub fn check(history: &[Op]) -> Verdict {
    let acked: Vec<(usize, i64)> = history
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match (&op.kind, op.outcome) {
            (Kind::Incr { value: Some(v) }, Outcome::Ok) => Some((i, *v)),
            _ => None,
        })
        .collect();
    let mut violations = duplicates(history, &acked);
    violations.extend(inversions(history, &acked));
    if violations.is_empty() {
        Verdict::Valid
    } else {
        Verdict::Invalid(violations)
    }
}

/// Tickets acknowledged to more than one operation.
fn duplicates(history: &[Op], acked: &[(usize, i64)]) -> Vec<Violation> {
    let mut by_value: HashMap<i64, Vec<usize>> = HashMap::new();
    for &(i, v) in acked {
        by_value.entry(v).or_default().push(i);
    }
    let mut twice: Vec<(i64, Vec<usize>)> = by_value
        .into_iter()
        .filter(|(_, ops)| ops.len() > 1)
        .collect();
    twice.sort();
    twice
        .into_iter()
        .map(|(v, ops)| Violation {
            key: String::new(),
            reason: format!(
                "ticket {v} was acknowledged {} times (clients {})",
                ops.len(),
                clients(history, &ops)
            ),
            ops: ops.clone(),
            order: Vec::new(),
            culprits: ops,
        })
        .collect()
}

/// Pairs where a ticket asked for after another was acknowledged is not
/// greater than it; the first one found for each late operation.
fn inversions(history: &[Op], acked: &[(usize, i64)]) -> Vec<Violation> {
    let ret = |i: usize| history[i].ret.unwrap_or(u64::MAX);
    let mut by_return: Vec<(usize, i64)> = acked.to_vec();
    by_return.sort_by_key(|&(i, _)| ret(i));
    let mut by_call: Vec<(usize, i64)> = acked.to_vec();
    by_call.sort_by_key(|&(i, _)| history[i].call);
    let mut violations = Vec::new();
    // The greatest ticket among the operations returned so far.
    let mut greatest: Option<(usize, i64)> = None;
    let mut returned = by_return.iter().peekable();
    for &(late, v) in &by_call {
        while let Some(&&(i, w)) = returned.peek() {
            if ret(i) >= history[late].call {
                break;
            }
            if greatest.is_none_or(|(_, g)| w > g) {
                greatest = Some((i, w));
            }
            returned.next();
        }
        if let Some((early, g)) = greatest {
            if v <= g {
                violations.push(Violation {
                    key: String::new(),
                    reason: format!(
                        "ticket {v} (client {}) was asked for after ticket {g} (client {}) was acknowledged",
                        history[late].client, history[early].client
                    ),
                    ops: vec![early, late],
                    order: Vec::new(),
                    culprits: vec![late],
                });
            }
        }
    }
    violations
}

fn clients(history: &[Op], ops: &[usize]) -> String {
    ops.iter()
        .map(|&i| history[i].client.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(client: u32, value: Option<i64>, call: u64, ret: Option<u64>, outcome: Outcome) -> Op {
        Op {
            client,
            key: String::new(),
            kind: Kind::Incr { value },
            call,
            ret,
            outcome,
            node: String::new(),
            error: None,
        }
    }

    #[test]
    fn increasing_unique_tickets_check_out() {
        let h = [
            incr(0, Some(1), 0, Some(2), Outcome::Ok),
            incr(1, Some(3), 1, Some(5), Outcome::Ok),
            incr(2, Some(2), 1, Some(4), Outcome::Ok),
            incr(3, None, 3, None, Outcome::Unknown),
            incr(0, Some(5), 6, Some(7), Outcome::Ok),
        ];
        assert_eq!(check(&h), Verdict::Valid);
    }

    #[test]
    fn a_ticket_handed_out_twice_is_rejected() {
        let h = [
            incr(0, Some(1), 0, Some(1), Outcome::Ok),
            incr(1, Some(2), 2, Some(3), Outcome::Ok),
            incr(2, Some(2), 4, Some(5), Outcome::Ok),
        ];
        let Verdict::Invalid(v) = check(&h) else {
            panic!("expected a violation")
        };
        assert!(
            v[0].reason.contains("ticket 2 was acknowledged 2 times"),
            "{v:?}"
        );
    }

    #[test]
    fn a_lost_increment_is_rejected() {
        // Ticket 5 was acknowledged; after it the counter starts again at 3.
        let h = [
            incr(0, Some(5), 0, Some(1), Outcome::Ok),
            incr(1, Some(3), 2, Some(3), Outcome::Ok),
        ];
        let Verdict::Invalid(v) = check(&h) else {
            panic!("expected a violation")
        };
        assert_eq!(v[0].culprits, [1]);
    }
}
