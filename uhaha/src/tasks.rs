//! A node's tasks, owned: each one is spawned through [`Tasks`], ends when
//! the node stops, and is awaited by the node's shutdown, so that once
//! `Node::shutdown` returns nothing of the node runs any more and its files
//! may be removed. (The shape of mini-redis's shutdown signal, with
//! tokio-util's `TaskTracker` and `CancellationToken`.)

use std::future::Future;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The tasks of one node and the signal that stops them. Clones share both.
#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    stop: CancellationToken,
}

impl Tasks {
    /// Runs `task` until it ends or the node stops, whichever comes first.
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let stop = self.stop.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                _ = task => {}
                _ = stop.cancelled() => {}
            }
        });
    }

    /// Runs `task` to its own end, which must come once Raft has stopped:
    /// for a task that has to see Raft stop (the role hook reports it).
    /// The node's shutdown waits for it after stopping Raft.
    pub fn spawn_to_end(&self, task: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(task);
    }

    /// Tells every task to stop; [`Tasks::wait`] waits until they have.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Whether [`Tasks::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Waits until every task has ended; takes no new ones after.
    pub async fn wait(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[tokio::test]
    async fn stop_ends_every_task_and_wait_sees_them_end() {
        let tasks = Tasks::default();
        let dropped = Arc::new(AtomicBool::new(false));
        struct SetOnDrop(Arc<AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let guard = SetOnDrop(dropped.clone());
        tasks.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        });
        tasks.spawn(async {});
        assert!(!tasks.is_stopped());
        tasks.stop();
        assert!(tasks.is_stopped());
        tasks.wait().await;
        assert!(dropped.load(Ordering::SeqCst), "the endless task was ended");
    }
}
