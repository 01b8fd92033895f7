//! Raft's state changes, told once each: a task watches this node's Raft
//! and logs at info when its role, term, leader or membership changes
//! (openraft's own narration is kept to warnings), and counts leader
//! changes for `uhaha_server_leader_changes_seen_total`.

use super::{LogId, NodeId, Raft};
use crate::tasks::Tasks;
use openraft::async_runtime::WatchReceiver;
use openraft::ServerState;
use prometheus_client::metrics::counter::Counter;
use std::collections::BTreeSet;

/// What is told when it changes: compared at every change of Raft's
/// metrics (many a second under load), so only cheap copies; the text is
/// made when a line is logged.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Told {
    state: ServerState,
    term: u64,
    leader: Option<NodeId>,
    /// The log id of the membership in force: a new one may be a change.
    membership: Option<LogId>,
}

type Metrics = openraft::RaftMetrics<super::TypeConfig>;

impl Told {
    fn of(m: &Metrics) -> Told {
        Told {
            state: m.state,
            term: m.current_term,
            leader: m.current_leader,
            membership: *m.membership_config.log_id(),
        }
    }
}

/// Starts the task, one of the node's `tasks`.
pub fn watch(raft: Raft, leader_changes: Counter, tasks: &Tasks) {
    let mut changes = raft.metrics();
    tasks.spawn(async move {
        let mut last: Option<Told> = None;
        let mut members = String::new();
        loop {
            let now = {
                let metrics = changes.borrow_and_update();
                let now = Told::of(&metrics);
                if last != Some(now) {
                    tell(last, now, &metrics, &leader_changes, &mut members);
                }
                now
            };
            last = Some(now);
            if changes.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Logs what changed from `last` to `now`, which `metrics` shows.
/// `members` is the membership last logged: a new membership entry with
/// the same members (the joint step of a change, then its uniform step, or
/// a learner's copy of an entry it had) is not told again.
fn tell(
    last: Option<Told>,
    now: Told,
    metrics: &Metrics,
    leader_changes: &Counter,
    members: &mut String,
) {
    let changed = |differs: &dyn Fn(&Told) -> bool| last.as_ref().is_none_or(differs);
    if changed(&|l| l.state != now.state || l.term != now.term) {
        let role = format!("{:?}", now.state).to_lowercase();
        tracing::info!("this node is {role} in term {}", now.term);
    }
    if let Some(leader) = now.leader.filter(|_| changed(&|l| l.leader != now.leader)) {
        leader_changes.inc();
        tracing::info!("the leader is node {leader} (term {})", now.term);
    }
    if changed(&|l| l.membership != now.membership) {
        let membership = metrics.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let learners: BTreeSet<NodeId> = membership
            .nodes()
            .map(|(id, _)| *id)
            .filter(|id| !voters.contains(id))
            .collect();
        let told = format!("voters {voters:?}, learners {learners:?}");
        if *members != told {
            tracing::info!("members: {told}");
            *members = told;
        }
    }
}
