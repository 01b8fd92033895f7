//! Hooks: code of the user's that runs when a client connects or leaves and
//! when the node's role in the cluster changes. Registered on the
//! [`NodeBuilder`](crate::NodeBuilder).

use crate::server::conn::{Conn, ConnData};
use crate::tasks::Tasks;
use std::sync::Arc;

/// What a connection hook decides about a new connection.
pub type ConnectHook = dyn Fn(&Conn) -> Result<Option<ConnData>, String> + Send + Sync;
/// Runs when a client connection ends.
pub type DisconnectHook = dyn Fn(&Conn) + Send + Sync;
/// Runs when the node's role changes.
pub type RoleHook = dyn Fn(Role) + Send + Sync;

/// The hooks of a node; each optional.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub connect: Option<Arc<ConnectHook>>,
    pub disconnect: Option<Arc<DisconnectHook>>,
    pub role: Option<Arc<RoleHook>>,
}

impl Hooks {
    /// Asks the connect hook about `conn` and attaches what it returns.
    /// `Err` carries the error message the client is sent before the
    /// connection is closed.
    pub fn connected(&self, conn: &mut Conn) -> Result<(), String> {
        if let Some(hook) = &self.connect {
            let data = hook(conn)?;
            conn.set_data(data);
        }
        Ok(())
    }

    /// Runs the disconnect hook for `conn` when the returned guard drops:
    /// when the connection ends, also when a node's shutdown cuts it off.
    pub fn on_close(&self, conn: Conn) -> CloseGuard {
        CloseGuard {
            hook: self.disconnect.clone(),
            conn,
        }
    }
}

/// Runs the disconnect hook when dropped; see [`Hooks::on_close`].
pub(crate) struct CloseGuard {
    hook: Option<Arc<DisconnectHook>>,
    conn: Conn,
}

impl Drop for CloseGuard {
    fn drop(&mut self) {
        if let Some(hook) = &self.hook {
            hook(&self.conn);
        }
    }
}

/// A node's role in its cluster, as the state-change hook sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Takes writes and serves linearizable reads.
    Leader,
    /// Follows a leader; a voter.
    Follower,
    /// Campaigns to become the leader.
    Candidate,
    /// Receives the log without a vote (`--nonvoter`).
    Learner,
    /// Raft has stopped on this node.
    Shutdown,
}

impl Role {
    pub(crate) fn of(state: openraft::ServerState) -> Role {
        use openraft::ServerState;
        match state {
            ServerState::Leader => Role::Leader,
            ServerState::Follower => Role::Follower,
            ServerState::Candidate => Role::Candidate,
            ServerState::Learner => Role::Learner,
            ServerState::Shutdown => Role::Shutdown,
        }
    }
}

/// Calls the role hook with every change of the node's role, from the
/// current one on, until Raft stops.
pub(crate) fn watch_role(raft: crate::raft::Raft, hook: Arc<RoleHook>, tasks: &Tasks) {
    use openraft::async_runtime::WatchReceiver;
    tasks.spawn_to_end(async move {
        let mut metrics = raft.metrics();
        let mut last = None;
        loop {
            let role = Role::of(metrics.borrow_and_update().state);
            if last != Some(role) {
                last = Some(role);
                hook(role);
            }
            if role == Role::Shutdown || metrics.changed().await.is_err() {
                if role != Role::Shutdown {
                    hook(Role::Shutdown);
                }
                return;
            }
        }
    });
}
