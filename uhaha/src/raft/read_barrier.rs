//! The read barrier: what makes a read on the leader linearizable.
//!
//! Before a read runs, the leader confirms with a quorum that it is still
//! the leader and waits until its state machine has applied everything
//! committed up to that moment (openraft's read index). One confirmation
//! round serves every read that was waiting when it started, so a thousand
//! concurrent reads cost one round, not a thousand.

use super::{Raft, Redirect};
use crate::command::Reply;
use crate::metrics::ReadMetrics;
use crate::tasks::Tasks;
use tokio::sync::{mpsc, oneshot};

type Waiter = oneshot::Sender<Result<(), Reply>>;

/// A handle to the read barrier task.
#[derive(Clone)]
pub struct ReadBarrier {
    tx: mpsc::UnboundedSender<Waiter>,
}

impl ReadBarrier {
    /// Starts the barrier task for `raft`, one of the node's `tasks`,
    /// counting its rounds in `metrics`.
    pub fn start(
        raft: Raft,
        redirect: Redirect,
        metrics: ReadMetrics,
        tasks: &Tasks,
    ) -> ReadBarrier {
        let (tx, rx) = mpsc::unbounded_channel();
        tasks.spawn(run(raft, redirect, metrics, rx));
        ReadBarrier { tx }
    }

    /// Waits until a read that starts now would be linearizable; the error
    /// is the reply to give instead (a redirect, usually).
    pub async fn wait(&self) -> Result<(), Reply> {
        let (tx, rx) = oneshot::channel();
        let down = super::errors::stopping;
        self.tx.send(tx).map_err(|_| down())?;
        rx.await.map_err(|_| down())?
    }
}

async fn run(
    raft: Raft,
    redirect: Redirect,
    metrics: ReadMetrics,
    mut rx: mpsc::UnboundedReceiver<Waiter>,
) {
    let mut waiting = Vec::new();
    while let Some(first) = rx.recv().await {
        waiting.push(first);
        while let Ok(next) = rx.try_recv() {
            waiting.push(next);
        }
        let started = std::time::Instant::now();
        let result = raft
            .ensure_linearizable(openraft::raft::ReadPolicy::ReadIndex)
            .await
            .map(|_| ())
            .map_err(|e| redirect.read_error(&e));
        metrics.rounds.inc();
        metrics.duration.observe(started.elapsed().as_secs_f64());
        for tx in waiting.drain(..) {
            let _ = tx.send(result.clone());
        }
    }
}
