//! Raft's state changes, told once each: a task watches this node's Raft
//! and logs at info when its role, term, leader or membership changes
//! (openraft's own narration is kept to warnings), and counts leader
//! changes for `uhaha_server_leader_changes_seen_total`.

use super::{NodeId, Raft};
use crate::tasks::Tasks;
use openraft::async_runtime::WatchReceiver;
use prometheus_client::metrics::counter::Counter;
use std::collections::BTreeSet;

/// What is told when it changes.
#[derive(PartialEq, Eq)]
struct Told {
    role: String,
    term: u64,
    leader: Option<NodeId>,
    voters: BTreeSet<NodeId>,
    learners: BTreeSet<NodeId>,
}

impl Told {
    fn of(raft: &openraft::RaftMetrics<super::TypeConfig>) -> Told {
        let membership = raft.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let learners = membership
            .nodes()
            .map(|(id, _)| *id)
            .filter(|id| !voters.contains(id))
            .collect();
        Told {
            role: format!("{:?}", raft.state).to_lowercase(),
            term: raft.current_term,
            leader: raft.current_leader,
            voters,
            learners,
        }
    }
}

/// Starts the task, one of the node's `tasks`.
pub fn watch(raft: Raft, leader_changes: Counter, tasks: &Tasks) {
    let mut changes = raft.metrics();
    tasks.spawn(async move {
        let mut last: Option<Told> = None;
        loop {
            let now = Told::of(&changes.borrow_and_update());
            tell(last.as_ref(), &now, &leader_changes);
            last = Some(now);
            if changes.changed().await.is_err() {
                return;
            }
        }
    });
}

/// Logs what changed from `last` to `now`.
fn tell(last: Option<&Told>, now: &Told, leader_changes: &Counter) {
    let changed = |differs: &dyn Fn(&Told) -> bool| last.is_none_or(differs);
    if changed(&|l| l.role != now.role || l.term != now.term) {
        tracing::info!("this node is {} in term {}", now.role, now.term);
    }
    if let Some(leader) = now.leader.filter(|_| changed(&|l| l.leader != now.leader)) {
        leader_changes.inc();
        tracing::info!("the leader is node {leader} (term {})", now.term);
    }
    if changed(&|l| l.voters != now.voters || l.learners != now.learners) {
        tracing::info!(
            "members: voters {:?}, learners {:?}",
            now.voters,
            now.learners
        );
    }
}
