//! Running `#[intermediate]` commands and the `#[catch_all]` method: on the
//! node that received the command, outside the log and without the state.
//!
//! Both go one way: the generated code reads the arguments and hands back
//! the method's run as a future; the connection awaits it in its own task,
//! so replies keep the order of requests; the outcome is either the
//! client's reply or a command to run instead, which goes back through the
//! normal dispatch (a write through the log, a read through the read
//! barrier) with the same session, so authentication was already checked.
//!
//! Unlike Go uhaha, an intermediate does not wait for the connection's
//! earlier writes before it runs: it cannot see the state, so there is
//! nothing for them to change, and a command it returns is queued behind
//! them anyway. Pipelined intermediates therefore keep their throughput.

use super::Server;
use crate::command::{ArgError, Args, Commands, Intermediate, IntermediateFuture, Reply};
use crate::machine::{contain, contain_future, Panicked};
use crate::server::dispatch::Flow;
use crate::server::reply_queue::ReplyQueue;
use crate::server::session::Session;
use bytes::Bytes;

impl<M: Commands> Server<M> {
    /// Runs `#[intermediate]` command `index`; `rewrites` counts the
    /// commands that intermediates already put in place of the client's.
    pub(crate) async fn intermediate(
        &self,
        index: usize,
        session: &mut Session,
        cmd: Vec<Bytes>,
        queue: &mut ReplyQueue,
        rewrites: usize,
    ) -> Flow {
        let name = M::COMMANDS[index].name;
        // The user's code may wait on what the client's earlier writes do.
        queue.propose().await;
        let run = contain(|| M::intermediate(index, &session.conn, Args::new(&cmd[1..])));
        let outcome = outcome(name, run).await;
        self.follow(outcome, session, queue, rewrites).await
    }

    /// Runs the `#[catch_all]` method on a command the table does not know.
    pub(crate) async fn catch_all(
        &self,
        session: &mut Session,
        cmd: Vec<Bytes>,
        queue: &mut ReplyQueue,
        rewrites: usize,
    ) -> Flow {
        queue.propose().await;
        let run = contain(|| M::catch_all(&session.conn, Args::new(&cmd)));
        let outcome = outcome("#[catch_all]", run).await;
        self.follow(outcome, session, queue, rewrites).await
    }

    /// Queues the reply, or dispatches the command that replaces the
    /// client's, within [`Intermediate::MAX_REWRITES`].
    async fn follow(
        &self,
        outcome: Intermediate,
        session: &mut Session,
        queue: &mut ReplyQueue,
        rewrites: usize,
    ) -> Flow {
        let reply = match outcome {
            Intermediate::Reply(reply) => reply,
            Intermediate::Command(cmd) if cmd.is_empty() => Reply::error(
                "an intermediate or catch-all command returned an empty command",
            ),
            Intermediate::Command(_) if rewrites >= Intermediate::MAX_REWRITES => {
                Reply::error(format_args!(
                    "command rewritten more than {} times: intermediate or catch-all commands keep returning other commands",
                    Intermediate::MAX_REWRITES,
                ))
            }
            Intermediate::Command(cmd) => {
                // Boxed: dispatch may come back here for the new command.
                let next = self.route(session, cmd, queue, rewrites + 1);
                return Box::pin(next).await;
            }
            Intermediate::Hijack(hijack) => {
                queue.untrack();
                return Flow::Hijack(hijack);
            }
        };
        queue.ready(self.cluster.redirect_not_leader(reply));
        Flow::Continue
    }
}

/// What method `name`'s run came to; an argument it could not read, or a
/// panic (contained, see [`crate::machine::contain`]), is the client's
/// error reply.
async fn outcome(
    name: &str,
    run: Result<Result<IntermediateFuture<'_>, ArgError>, Panicked>,
) -> Intermediate {
    let reply = match run {
        Ok(Ok(run)) => match contain_future(run).await {
            Ok(outcome) => return outcome,
            Err(panicked) => panicked.reply_for(name),
        },
        Ok(Err(e)) => Reply::Error(e.to_string()),
        Err(panicked) => panicked.reply_for(name),
    };
    Intermediate::Reply(reply)
}
