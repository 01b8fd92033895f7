//! Dispatch: what happens to one parsed command. Built-ins are answered
//! here; user commands are checked (arity, argument types) before anything
//! reaches the log, then writes go to the proposer and reads run against the
//! applied state after the read barrier.

use super::Server;
use crate::command::help::{command_docs, command_info, help_lines};
use crate::command::{Args, Builtin, Commands, ErrorCode, Kind, Reply, Route};
use crate::machine::{command_reply, contain, machine_reply, Ctx};
use crate::metrics::Rejected;
use crate::raft::Applied;
use crate::server::hijack::Hijack;
use crate::server::reply_queue::ReplyQueue;
use crate::server::session::{self, noauth, Session};
use bytes::Bytes;

/// Whether the connection goes on after a command.
#[derive(Debug)]
pub enum Flow {
    Continue,
    Close,
    /// The connection is taken over: by an intermediate, or by `MONITOR`.
    Hijack(Hijack),
}

/// The commands a client may send before it authenticates, as in Redis:
/// those that authenticate, and those that end or reset the connection.
fn allowed_before_auth(route: Route) -> bool {
    matches!(
        route,
        Route::Builtin(Builtin::Auth | Builtin::Hello | Builtin::Quit | Builtin::Reset)
    )
}

fn wrong_arity(name: &[u8]) -> Reply {
    Reply::Error(format!(
        "ERR wrong number of arguments for '{}' command",
        String::from_utf8_lossy(name).to_lowercase()
    ))
}

fn unknown_command(cmd: &[Bytes]) -> Reply {
    let mut text = format!(
        "ERR unknown command '{}', with args beginning with: ",
        String::from_utf8_lossy(&cmd[0])
    );
    for arg in cmd[1..].iter().take(8) {
        text.push_str(&format!(
            "'{}' ",
            String::from_utf8_lossy(&arg[..arg.len().min(128)])
        ));
    }
    Reply::Error(text)
}

impl<M: Commands> Server<M> {
    /// Handles one command, queueing its reply.
    pub async fn dispatch(
        &self,
        session: &mut Session,
        cmd: Vec<Bytes>,
        queue: &mut ReplyQueue,
    ) -> Flow {
        self.route(session, cmd, queue, 0).await
    }

    /// Handles one command that intermediates put in place of the client's
    /// `rewrites` times (0 for the client's own); see [`crate::server::intermediates`].
    pub(crate) async fn route(
        &self,
        session: &mut Session,
        cmd: Vec<Bytes>,
        queue: &mut ReplyQueue,
        rewrites: usize,
    ) -> Flow {
        let Some((route, at)) = self.table.find(&cmd[0]) else {
            if session.authed && M::CATCH_ALL {
                self.monitors.publish(&session.conn, &cmd);
                return self.catch_all(session, cmd, queue, rewrites).await;
            }
            queue.ready(if session.authed {
                unknown_command(&cmd)
            } else {
                noauth()
            });
            return Flow::Continue;
        };
        let spec = self.table.spec_at(at);
        session.last_command = spec.name;
        queue.track(at, &cmd);
        if !session.authed && !allowed_before_auth(route) {
            queue.ready(noauth());
            return Flow::Continue;
        }
        if !spec.accepts(cmd.len() - 1) {
            queue.ready(wrong_arity(&cmd[0]));
            return Flow::Continue;
        }
        self.monitors.publish(&session.conn, &cmd);
        match route {
            Route::User(index) if spec.kind == Kind::Intermediate => {
                self.intermediate(index, session, cmd, queue, rewrites)
                    .await
            }
            Route::User(index) => {
                let args = Args::new(&cmd[1..]);
                // Reading a user type's argument runs the user's code too.
                match contain(|| M::check(index, args)) {
                    Ok(Ok(())) if spec.kind == Kind::Write => {
                        Self::write(spec.name, cmd, queue);
                    }
                    Ok(Ok(())) => {
                        let reply = self
                            .read(queue, |state| {
                                let ctx = Ctx::for_read(&state.clock);
                                command_reply(spec.name, || state.machine.read(index, &ctx, args))
                            })
                            .await;
                        queue.ready(self.cluster.redirect_not_leader(reply));
                    }
                    Ok(Err(e)) => queue.ready(Reply::Error(e.to_string())),
                    Err(panicked) => queue.ready(panicked.reply_for(spec.name)),
                }
                Flow::Continue
            }
            Route::Builtin(builtin) => self.builtin(builtin, session, cmd, queue).await,
        }
    }

    /// Queues a write for the log under its canonical name.
    fn write(name: &'static str, mut cmd: Vec<Bytes>, queue: &mut ReplyQueue) {
        cmd[0] = Bytes::from_static(name.as_bytes());
        queue.write(cmd);
    }

    /// Runs a read once the connection's earlier writes have replied and,
    /// unless reads are open, once a read barrier has passed that began
    /// after the read arrived. One barrier serves every read of a batch of
    /// received commands; [`ReplyQueue::barrier_passed`] says why that is
    /// linearizable.
    async fn read(&self, queue: &mut ReplyQueue, run: impl FnOnce(&Applied<M>) -> Reply) -> Reply {
        queue.settle().await;
        if !self.settings.openreads && !queue.barrier_passed() {
            if let Err(redirect) = self.reads.wait().await {
                return redirect;
            }
            queue.barrier_has_passed();
        }
        // Without the lock's future when it is free, as it nearly always is.
        match self.state.try_read() {
            Ok(state) => run(&state),
            Err(_) => run(&*self.state.read().await),
        }
    }

    async fn builtin(
        &self,
        builtin: Builtin,
        session: &mut Session,
        cmd: Vec<Bytes>,
        queue: &mut ReplyQueue,
    ) -> Flow {
        let arg = |i: usize| cmd.get(i).map(|a| a.to_ascii_uppercase());
        let reply = match builtin {
            Builtin::Quit => {
                queue.ready(Reply::ok());
                return Flow::Close;
            }
            Builtin::Auth => {
                let reply = session.auth(self.settings.auth.as_deref(), &cmd);
                if matches!(reply, Reply::Error(_)) {
                    self.metrics.rejected(Rejected::Auth);
                }
                reply
            }
            Builtin::Hello => {
                let status = self.cluster.status();
                let leads = status.leader == Some(status.id);
                session.hello(self.settings.auth.as_deref(), leads, &cmd)
            }
            Builtin::Reset => session.reset(self.settings.auth.as_deref()),
            Builtin::Select => session::select(&cmd[1]),
            Builtin::Info => self.info().info(session.client.clients(), &cmd[1..]),
            Builtin::Ping => match cmd.get(1) {
                None => Reply::Status("PONG".into()),
                Some(msg) => Reply::Bulk(msg.clone()),
            },
            Builtin::Echo => Reply::Bulk(cmd[1].clone()),
            Builtin::Health => match self.lifecycle.readiness(&self.raft) {
                Ok(()) => Reply::ok(),
                Err(why) => ErrorCode::ClusterDown.reply(format_args!("not ready: {why}")),
            },
            Builtin::Version => Reply::bulk(crate::machine::version_line::<M>(
                self.extensions.build_id.as_deref(),
            )),
            Builtin::Barrier => {
                Self::write("BARRIER", cmd, queue);
                return Flow::Continue;
            }
            Builtin::Machine => match arg(1).as_deref() {
                None => {
                    self.read(queue, |state| machine_reply(&state.clock, false))
                        .await
                }
                Some(b"HUMAN" | b"H") => {
                    self.read(queue, |state| machine_reply(&state.clock, true))
                        .await
                }
                Some(_) => Reply::error("syntax error"),
            },
            Builtin::Help => self.help(&cmd),
            Builtin::Command => self.command(&cmd),
            Builtin::Client => session::client(session, &cmd),
            // Cluster changes and snapshots come after the client's
            // earlier writes, as they would one by one.
            Builtin::Raft => {
                queue.settle().await;
                self.cluster_commands().raft_command(&cmd).await
            }
            Builtin::Cluster => self.cluster_commands().cluster_command(&cmd),
            Builtin::Monitor => {
                queue.ready(Reply::ok());
                return Flow::Hijack(self.monitors.monitor());
            }
            Builtin::Shutdown => {
                queue.settle().await;
                tracing::warn!("shutting down on SHUTDOWN from client {}", session.id());
                self.shutdown.notify_one();
                return Flow::Close;
            }
        };
        // HELLO and RESET switch the protocol: their own reply is already
        // in the new one, the replies before it in the old one.
        queue.switch(session.protocol).await;
        queue.ready(reply);
        Flow::Continue
    }

    fn help(&self, cmd: &[Bytes]) -> Reply {
        let lines = match cmd.get(1) {
            None => help_lines(self.table.specs(), false),
            Some(name) => match self.table.lookup(name) {
                Some(route) => help_lines([self.table.spec(route)], true),
                None => return unknown_command(&cmd[1..]),
            },
        };
        Reply::Array(lines.into_iter().map(Reply::Status).collect())
    }

    fn command(&self, cmd: &[Bytes]) -> Reply {
        let sub = cmd.get(1).map(|s| s.to_ascii_uppercase());
        let named = || {
            cmd[2..]
                .iter()
                .map(|n| self.table.lookup(n).map(|r| self.table.spec(r)))
        };
        match sub.as_deref() {
            None => Reply::Array(self.table.specs().map(command_info).collect()),
            Some(b"COUNT") if cmd.len() == 2 => Reply::Integer(self.table.specs().count() as i64),
            Some(b"LIST") if cmd.len() == 2 => Reply::Array(
                self.table
                    .specs()
                    .map(|s| Reply::bulk(s.name.to_ascii_lowercase()))
                    .collect(),
            ),
            Some(b"INFO") if cmd.len() == 2 => {
                Reply::Array(self.table.specs().map(command_info).collect())
            }
            Some(b"INFO") => Reply::Array(
                named()
                    .map(|s| s.map_or(Reply::Null, command_info))
                    .collect(),
            ),
            Some(b"DOCS") => {
                let docs: Vec<_> = if cmd.len() == 2 {
                    self.table
                        .specs()
                        .map(|s| command_docs(s, M::VERSION))
                        .collect()
                } else {
                    named()
                        .flatten()
                        .map(|s| command_docs(s, M::VERSION))
                        .collect()
                };
                Reply::Map(docs)
            }
            _ => Reply::Error(format!(
                "ERR unknown subcommand or wrong number of arguments for '{}'. Try COMMAND HELP.",
                String::from_utf8_lossy(&cmd[1])
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_redis() {
        assert_eq!(
            wrong_arity(b"TICKET"),
            Reply::Error("ERR wrong number of arguments for 'ticket' command".into())
        );
        let unknown = unknown_command(&[Bytes::from("foo"), Bytes::from("a")]);
        assert_eq!(
            unknown,
            Reply::Error("ERR unknown command 'foo', with args beginning with: 'a' ".into())
        );
    }
}
