//! What `#[intermediate]` and `#[catch_all]` methods return: a reply for
//! the client, or another command to run in the original's place.
//!
//! Such methods run on the node that received the command, outside the log
//! and without the state, so they are where non-deterministic inputs (the
//! node's wall clock, a file, another service) are gathered before they go
//! through the log as an ordinary `#[write]`.

use super::reply::{IntoReply, Reply};
use super::to_arg::ToArg;
use super::IntoErrorReply;
use crate::server::hijack::{Hijack, Hijacked};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;

/// The result of an `#[intermediate]` or `#[catch_all]` method.
///
/// `Command` runs another command for the same client, through the normal
/// dispatch, as if the client had sent it: a `#[write]` goes through the
/// log, a `#[read]` through the read barrier, a built-in runs here; its
/// reply is the client's reply. A command rewritten more than
/// [`Intermediate::MAX_REWRITES`] times in a row is answered with an error.
/// `Hijack` takes the connection over; see [`Intermediate::hijack`].
///
/// ```
/// use uhaha::Intermediate;
///
/// /// Stores the time at the node that received the command.
/// fn setnow(key: String) -> Intermediate {
///     let now = std::time::SystemTime::now()
///         .duration_since(std::time::UNIX_EPOCH)
///         .unwrap()
///         .as_millis() as u64;
///     Intermediate::command(["SET".to_string(), key, now.to_string()])
/// }
/// assert!(matches!(setnow("k".into()), Intermediate::Command(cmd) if cmd.len() == 3));
/// ```
#[derive(Debug, PartialEq)]
#[non_exhaustive]
pub enum Intermediate {
    /// Answer the client with this reply.
    Reply(Reply),
    /// Run this command (its name first) instead, and answer with its reply.
    Command(Vec<Bytes>),
    /// Take the connection over.
    Hijack(Hijack),
}

impl Intermediate {
    /// How many times in a row a command may be replaced by another before
    /// the client gets an error instead: a guard against intermediates that
    /// rewrite into each other forever.
    ///
    /// ```
    /// assert_eq!(uhaha::Intermediate::MAX_REWRITES, 8);
    /// ```
    pub const MAX_REWRITES: usize = 8;

    /// A command to run instead, from values that can be arguments.
    ///
    /// ```
    /// use uhaha::{Bytes, Intermediate};
    ///
    /// let cmd = Intermediate::command(["GET", "key"]);
    /// assert_eq!(cmd, Intermediate::Command(vec![Bytes::from("GET"), Bytes::from("key")]));
    /// ```
    pub fn command<A: ToArg>(args: impl IntoIterator<Item = A>) -> Intermediate {
        Intermediate::Command(args.into_iter().map(ToArg::into_arg).collect())
    }

    /// Takes the connection over (uhaha's `Hijack`): once the replies to
    /// the client's earlier commands are written, `run` gets the connection
    /// and does all of its reading and writing, without a reply of the
    /// node's for this command. It returns the connection to hand it back
    /// to the node, which serves its next commands as before, or `None` to
    /// close it. For streaming replies, blocking commands and pub/sub.
    ///
    /// A hijacker runs on the node the client is connected to, in the
    /// connection's task: it should wait (on the client, a
    /// [`Subscriber`](crate::pubsub::Subscriber), a timer), never block.
    ///
    /// ```
    /// use uhaha::prelude::*;
    ///
    /// #[uhaha::machine]
    /// #[derive(Default)]
    /// struct Echo;
    ///
    /// #[uhaha::machine]
    /// impl Echo {
    ///     /// ECHOMODE: repeats every command's arguments until `STOP`, then
    ///     /// goes back to normal commands.
    ///     #[intermediate]
    ///     fn echomode() -> Intermediate {
    ///         Intermediate::hijack(|mut conn| async move {
    ///             conn.send(&Reply::ok()).await.ok()?;
    ///             while let Some(cmd) = conn.read_command().await.ok()? {
    ///                 if cmd[0].eq_ignore_ascii_case(b"STOP") {
    ///                     conn.send(&Reply::ok()).await.ok()?;
    ///                     return Some(conn);
    ///                 }
    ///                 let args = cmd[1..].iter().cloned().map(Reply::Bulk).collect();
    ///                 conn.send(&Reply::Array(args)).await.ok()?;
    ///             }
    ///             None
    ///         })
    ///     }
    /// }
    /// ```
    pub fn hijack<F, Fut>(run: F) -> Intermediate
    where
        F: FnOnce(Hijacked) -> Fut + Send + 'static,
        Fut: Future<Output = Option<Hijacked>> + Send + 'static,
    {
        Intermediate::Hijack(Hijack::new(run))
    }
}

/// The future an `#[intermediate]` or `#[catch_all]` method becomes in the
/// generated command table: boxed, so that every method has one type, and
/// `Send`, so that it may run on any runtime thread. Generated code's only.
pub type IntermediateFuture<'a> = Pin<Box<dyn Future<Output = Intermediate> + Send + 'a>>;

/// A value an `#[intermediate]` or `#[catch_all]` method can return.
///
/// Anything that can be a reply ([`IntoReply`], `Result<T, E>` included,
/// `E` any `Display` or a [`crate::CommandError`]) becomes
/// [`Intermediate::Reply`]; [`Intermediate`] itself and
/// `Result<Intermediate, E>` are taken as they are, an error becoming an
/// error reply.
///
/// ```
/// use uhaha::{Intermediate, IntoIntermediate, Reply};
///
/// assert_eq!(7i64.into_intermediate(), Intermediate::Reply(Reply::Integer(7)));
/// let failed: Result<Intermediate, &str> = Err("no clock");
/// assert_eq!(failed.into_intermediate(), Intermediate::Reply(Reply::error("no clock")));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be returned by an #[intermediate] or #[catch_all] method",
    label = "this type implements neither `uhaha::IntoReply` nor `uhaha::IntoIntermediate`",
    note = "return a reply (any `uhaha::IntoReply` type, `Result<T, E: Display or uhaha::CommandError>` included), `uhaha::Intermediate`, or `Result<Intermediate, E: Display or uhaha::CommandError>`"
)]
pub trait IntoIntermediate {
    /// Converts the value.
    fn into_intermediate(self) -> Intermediate;
}

impl<T: IntoReply> IntoIntermediate for T {
    fn into_intermediate(self) -> Intermediate {
        Intermediate::Reply(self.into_reply())
    }
}

impl IntoIntermediate for Intermediate {
    fn into_intermediate(self) -> Intermediate {
        self
    }
}

impl<E: IntoErrorReply> IntoIntermediate for Result<Intermediate, E> {
    fn into_intermediate(self) -> Intermediate {
        self.unwrap_or_else(|e| Intermediate::Reply(e.into_error_reply()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_commands_convert() {
        assert_eq!(().into_intermediate(), Intermediate::Reply(Reply::ok()));
        assert_eq!(
            Err::<i64, _>("boom").into_intermediate(),
            Intermediate::Reply(Reply::Error("ERR boom".into()))
        );
        let cmd = Intermediate::command(["SET", "k", "v"]);
        assert_eq!(
            Intermediate::command(["SET", "k", "v"]).into_intermediate(),
            cmd
        );
        assert_eq!(
            Ok::<_, String>(Intermediate::command(["SET", "k", "v"])).into_intermediate(),
            cmd
        );
        let hijack = Intermediate::hijack(|conn| async move { Some(conn) });
        assert_ne!(hijack, Intermediate::hijack(|_| async move { None }));
        assert_eq!(
            Intermediate::command([1u64, 2]),
            Intermediate::Command(vec![Bytes::from("1"), Bytes::from("2")])
        );
    }
}
