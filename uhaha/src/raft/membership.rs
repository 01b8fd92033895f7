//! Cluster membership: who the members are, who leads, and the changes
//! (add, remove, promote, demote), one at a time.
//!
//! A new node is added as a learner first and only promoted to voter once
//! it has caught up, so that adding a node never stalls the cluster's
//! quorum. Changes are serialized by a lock: openraft refuses a change while
//! another is in flight, and a queue is friendlier than an error.

use super::{Network, Node, NodeId, Raft, Redirect};
use crate::command::Reply;
use crate::tasks::Tasks;
use openraft::{ChangeMembers, ServerState};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::sync::{watch, Mutex};

/// How long a leadership transfer may take: a few election timeouts.
const TRANSFER_WAIT: Duration = Duration::from_secs(5);

/// How long a stopping leader waits for its successor: one election
/// timeout. A transfer takes milliseconds; when it does not happen (the
/// whole cluster is stopping at once, the successor too) the node should
/// not hold up its own stop for long.
const HAND_OVER_WAIT: Duration = Duration::from_secs(1);

/// A member of the cluster.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: NodeId,
    pub addr: String,
    pub voter: bool,
}

/// A snapshot of this node's view of the cluster, taken without waiting.
#[derive(Debug, Clone)]
pub struct Status {
    pub id: NodeId,
    pub state: &'static str,
    pub term: u64,
    pub leader: Option<NodeId>,
    pub members: Vec<Member>,
    pub membership_index: u64,
    pub applied: u64,
    /// The cluster's commit index as the leader last reported it (this
    /// node's own before it has heard from a leader).
    pub committed: u64,
    pub last_log_index: u64,
    pub snapshot: (u64, u64),
}

impl Status {
    /// The leader's address, if a leader is known.
    pub fn leader_addr(&self) -> Option<&str> {
        let leader = self.leader?;
        self.members
            .iter()
            .find(|m| m.id == leader)
            .map(|m| m.addr.as_str())
    }

    /// Whether this node votes.
    pub fn voter(&self) -> bool {
        self.members.iter().any(|m| m.id == self.id && m.voter)
    }

    /// The `RAFT INFO` pairs, sorted by key.
    pub fn info(&self) -> Vec<(&'static str, String)> {
        let voter = self.voter();
        let peers = if voter {
            self.members
                .iter()
                .filter(|m| m.voter && m.id != self.id)
                .count()
        } else {
            0
        };
        let configuration: Vec<String> = self
            .members
            .iter()
            .map(|m| {
                let suffrage = if m.voter { "Voter" } else { "Nonvoter" };
                format!("{{Suffrage:{suffrage} ID:{} Address:{}}}", m.id, m.addr)
            })
            .collect();
        let behind = self.last_log_index.saturating_sub(self.applied);
        let percent = if self.last_log_index == 0 {
            100.0
        } else {
            100.0 * self.applied as f64 / self.last_log_index as f64
        };
        vec![
            ("applied_index", self.applied.to_string()),
            ("commit_index", self.committed.to_string()),
            ("fsm_pending", "0".into()),
            ("id", self.id.to_string()),
            ("last_log_index", self.last_log_index.to_string()),
            ("last_snapshot_index", self.snapshot.1.to_string()),
            ("last_snapshot_term", self.snapshot.0.to_string()),
            (
                "latest_configuration",
                format!("[{}]", configuration.join(" ")),
            ),
            (
                "latest_configuration_index",
                self.membership_index.to_string(),
            ),
            (
                "leader_id",
                self.leader.map(|l| l.to_string()).unwrap_or_default(),
            ),
            ("logs_behind", behind.to_string()),
            ("logs_loaded_percent", format!("{percent:.1}")),
            ("num_peers", peers.to_string()),
            ("state", self.state.to_string()),
            ("term", self.term.to_string()),
            ("voter", voter.to_string()),
        ]
    }
}

/// Why a membership change did not happen.
#[derive(Debug)]
pub enum MembershipError {
    /// Not the leader: the reply sends the client there.
    Redirect(Reply),
    /// The change makes no sense (an unknown id, a reused id).
    Refused(String),
}

/// This node's handle on the cluster.
pub struct Cluster {
    raft: Raft,
    network: Network,
    redirect: Redirect,
    changes: Mutex<()>,
    /// Snapshot builds that failed; see `StateMachineStore::build_failures`.
    snapshot_failures: watch::Receiver<Option<String>>,
    /// The node's tasks, for stopping Raft when the node removes itself.
    tasks: Tasks,
}

impl Cluster {
    pub fn new(
        raft: Raft,
        network: Network,
        redirect: Redirect,
        snapshot_failures: watch::Receiver<Option<String>>,
        tasks: &Tasks,
    ) -> Cluster {
        Cluster {
            raft,
            network,
            redirect,
            changes: Mutex::new(()),
            snapshot_failures,
            tasks: tasks.clone(),
        }
    }

    /// The cluster as this node sees it now.
    pub fn status(&self) -> Status {
        let m = super::metrics(&self.raft);
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, node)| Member {
                id: *id,
                addr: node.addr.clone(),
                voter: voters.contains(id),
            })
            .collect();
        let state = match m.state {
            ServerState::Leader => "Leader",
            ServerState::Candidate => "Candidate",
            ServerState::Follower | ServerState::Learner => "Follower",
            ServerState::Shutdown => "Shutdown",
        };
        Status {
            id: m.id,
            state,
            term: m.current_term,
            leader: m.current_leader,
            members,
            membership_index: m.membership_config.log_id().map_or(0, |l| l.index),
            applied: m.last_applied.map_or(0, |l| l.index),
            committed: m
                .cluster_committed
                .or(m.local_committed)
                .map_or(0, |l| l.index),
            last_log_index: m.last_log_index.unwrap_or(0),
            snapshot: m.snapshot.map_or((0, 0), |l| (l.leader_id.term, l.index)),
        }
    }

    /// The leader's address, if a leader is known.
    pub fn leader_addr(&self) -> Option<String> {
        self.status().leader_addr().map(str::to_string)
    }

    /// Fails with a redirect unless this node leads.
    fn ensure_leader(&self, status: &Status) -> Result<(), MembershipError> {
        match self.to_leader(status) {
            None => Ok(()),
            Some(redirect) => Err(MembershipError::Redirect(redirect)),
        }
    }

    /// The reply that sends a client to the leader (`CLUSTERDOWN` when
    /// none is known), or `None` when this node leads.
    pub fn to_leader(&self, status: &Status) -> Option<Reply> {
        if status.leader == Some(status.id) {
            return None;
        }
        Some(match status.leader_addr() {
            Some(addr) => self.redirect.to(addr),
            None => super::errors::not_the_leader(),
        })
    }

    /// A command's reply, with its [`crate::CommandError::NotLeader`] turned
    /// into the redirect to the leader, or into the plain error `ERR not
    /// leader` on the leader itself.
    pub fn redirect_not_leader(&self, reply: Reply) -> Reply {
        if !reply.is_not_leader() {
            return reply;
        }
        self.to_leader(&self.status())
            .unwrap_or_else(|| Reply::error("not leader"))
    }

    async fn change(
        &self,
        changes: ChangeMembers<NodeId, Node>,
        retain: bool,
    ) -> Result<(), MembershipError> {
        self.raft
            .change_membership(changes, retain)
            .await
            .map(|_| ())
            .map_err(|e| MembershipError::Redirect(self.redirect.write_error(&e)))
    }

    /// Adds node `id` at `addr`: as a learner, then, once it has caught up,
    /// as a voter if asked. Adding a member again at the same address is a
    /// no-op (a restarted node re-joining); at another address it is refused,
    /// so that an id is never silently reused.
    pub async fn add(&self, id: NodeId, addr: String, voter: bool) -> Result<(), MembershipError> {
        let _one_at_a_time = self.changes.lock().await;
        let status = self.status();
        self.ensure_leader(&status)?;
        if let Some(member) = status.members.iter().find(|m| m.id == id) {
            if member.addr != addr {
                return Err(MembershipError::Refused(format!(
                    "node id {id} is already a member at {}; remove it first or pick another id",
                    member.addr
                )));
            }
            if member.voter || !voter {
                return Ok(());
            }
        } else {
            tracing::info!("adding node {id} at {addr} as a learner");
            self.raft
                .add_learner(id, Node { addr }, true)
                .await
                .map_err(|e| MembershipError::Redirect(self.redirect.write_error(&e)))?;
        }
        if voter {
            tracing::info!("promoting node {id} to voter");
            self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
                .await?;
        }
        Ok(())
    }

    /// Removes node `id` from the cluster.
    pub async fn remove(&self, id: NodeId) -> Result<(), MembershipError> {
        let _one_at_a_time = self.changes.lock().await;
        let status = self.status();
        self.ensure_leader(&status)?;
        let member = self.member(&status, id)?;
        tracing::info!("removing node {id}");
        let change = if member.voter {
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        self.change(change, false).await?;
        // Only now, with the removal committed, does the node stop: never
        // on seeing a configuration without itself, which a node added back
        // after a removal also applies while it catches up.
        if id == status.id {
            super::stop_removed(&self.raft, &self.tasks);
        } else {
            self.network.tell_removed(id, &member.addr).await;
        }
        Ok(())
    }

    /// Makes node `id` a voter or a non-voter.
    pub async fn set_voter(&self, id: NodeId, voter: bool) -> Result<(), MembershipError> {
        let _one_at_a_time = self.changes.lock().await;
        let status = self.status();
        self.ensure_leader(&status)?;
        let member = self.member(&status, id)?;
        match (member.voter, voter) {
            (false, true) => {
                self.change(ChangeMembers::AddVoterIds(BTreeSet::from([id])), true)
                    .await
            }
            (true, false) => {
                self.change(ChangeMembers::RemoveVoters(BTreeSet::from([id])), true)
                    .await
            }
            _ => Ok(()),
        }
    }

    /// Hands leadership to voter `to`, or to the most caught-up other voter,
    /// and waits until that node leads: it campaigns at once, told by this
    /// leader, so no one waits out an election timeout. Asked to hand
    /// leadership to itself, the leader stays.
    pub async fn transfer(&self, to: Option<NodeId>) -> Result<(), MembershipError> {
        self.transfer_within(to, TRANSFER_WAIT).await
    }

    /// [`Self::transfer`], giving the new leader `wait` to take over.
    async fn transfer_within(
        &self,
        to: Option<NodeId>,
        wait: Duration,
    ) -> Result<(), MembershipError> {
        let _one_at_a_time = self.changes.lock().await;
        let status = self.status();
        self.ensure_leader(&status)?;
        let target = match to {
            Some(id) if self.member(&status, id)?.voter => id,
            Some(id) => {
                return Err(MembershipError::Refused(format!(
                    "node {id} is not a voter"
                )))
            }
            None => self.most_caught_up_voter(&status).ok_or_else(|| {
                MembershipError::Refused("no other voter to hand leadership to".into())
            })?,
        };
        if target == status.id {
            return Ok(());
        }
        tracing::info!("handing leadership to node {target}");
        let refused =
            |e: String| MembershipError::Refused(format!("transfer to node {target}: {e}"));
        self.raft
            .trigger()
            .transfer_leader(target)
            .await
            .map_err(|e| refused(e.to_string()))?;
        self.raft
            .wait(Some(wait))
            .metrics(|m| m.current_leader == Some(target), "leadership moved")
            .await
            .map_err(|e| refused(e.to_string()))?;
        Ok(())
    }

    /// Before this node stops: if it leads and another voter can take over,
    /// hands leadership to it, so that the cluster does not wait out an
    /// election timeout for a new leader (rolling restarts).
    pub async fn hand_over(&self) {
        let status = self.status();
        let others = status.members.iter().any(|m| m.voter && m.id != status.id);
        if status.leader != Some(status.id) || !others {
            return;
        }
        if let Err(MembershipError::Refused(why)) = self.transfer_within(None, HAND_OVER_WAIT).await
        {
            tracing::warn!("stopping without handing leadership over: {why}");
        }
    }

    /// The voter other than this node whose log matches the leader's
    /// furthest, as the leader last heard.
    fn most_caught_up_voter(&self, status: &Status) -> Option<NodeId> {
        let replication = super::metrics(&self.raft).replication?;
        status
            .members
            .iter()
            .filter(|m| m.voter && m.id != status.id)
            .max_by_key(|m| replication.get(&m.id).copied().flatten())
            .map(|m| m.id)
    }

    /// Takes a snapshot of this node's state now and waits until it is
    /// saved; returns at once if the newest snapshot is already current.
    pub async fn snapshot_now(&self) -> Result<(), String> {
        let applied = super::metrics(&self.raft).last_applied;
        let mut failures = self.snapshot_failures.clone();
        failures.mark_unchanged();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            let before = super::metrics(&self.raft).snapshot;
            if before >= applied {
                return Ok(());
            }
            self.raft
                .trigger()
                .snapshot()
                .await
                .map_err(|e| e.to_string())?;
            // openraft ignores the trigger while a snapshot is being built:
            // wait for the next snapshot, whichever it is, and ask again if
            // it does not cover what was applied when this was asked.
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let wait = self.raft.wait(Some(left));
            let next = wait.metrics(|m| m.snapshot != before, "snapshot taken");
            tokio::select! {
                next = next => next.map_err(|e| format!("snapshot: {e}"))?,
                Ok(()) = failures.changed() => {
                    let failure = failures.borrow().clone().unwrap_or_default();
                    return Err(format!("snapshot failed: {failure}"));
                }
            };
        }
    }

    /// Drops the log up to the newest snapshot, so that a node that joins
    /// later starts from the snapshot, not from the log.
    pub async fn purge_to_snapshot(&self) -> Result<(), String> {
        let Some(snapshot) = super::metrics(&self.raft).snapshot else {
            return Err("no snapshot to purge the log to".into());
        };
        self.raft
            .trigger()
            .purge_log(snapshot.index)
            .await
            .map_err(|e| e.to_string())?;
        self.raft
            .wait(Some(Duration::from_secs(60)))
            .metrics(
                |m| m.purged.map_or(0, |p| p.index) >= snapshot.index,
                "log purged",
            )
            .await
            .map(|_| ())
            .map_err(|e| format!("purge: {e}"))
    }

    fn member(&self, status: &Status, id: NodeId) -> Result<Member, MembershipError> {
        status
            .members
            .iter()
            .find(|m| m.id == id)
            .cloned()
            .ok_or_else(|| MembershipError::Refused("server not found".into()))
    }

    /// The membership to bootstrap a new cluster with: this node alone.
    pub fn bootstrap_members(id: NodeId, addr: String) -> BTreeMap<NodeId, Node> {
        BTreeMap::from([(id, Node { addr })])
    }
}
