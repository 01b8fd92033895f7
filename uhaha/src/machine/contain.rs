//! User code runs contained: a panic in a command, a tick, an intermediate,
//! the catch-all or a snapshot save or restore becomes an error for that one
//! call, and the node goes on serving.
//!
//! A `#[write]` runs on every node in log order with the same inputs, so if
//! it panics it panics everywhere alike: every node answers the same error
//! and carries on, and the replicas stay identical. What the method changed
//! before it panicked stays changed (as it would in Redis' Lua scripts
//! without a rollback); a machine that needs all-or-nothing updates makes
//! its checks before it changes anything. Nothing is held across the call
//! that a panic could poison: the state lock is tokio's, which has no
//! poisoning, and the lock guard is not unwound through.
//!
//! This needs unwinding panics: a program built with `panic = "abort"`
//! still stops on the first panic.

use crate::command::{ArgError, Reply};
use crate::error::SnapshotError;
use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::Poll;

/// A panic caught in user code, with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panicked {
    message: String,
}

impl Panicked {
    fn from_payload(payload: Box<dyn Any + Send>) -> Panicked {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_string()
        };
        Panicked { message }
    }

    /// The error reply a client gets for a command that panicked.
    pub fn reply(&self) -> Reply {
        Reply::Error(format!("ERR command panicked: {}", self.message))
    }

    /// [`Panicked::reply`], once the panic is logged with the name of the
    /// command (or method) it came from.
    pub fn reply_for(&self, name: &str) -> Reply {
        tracing::error!("{name} {self}");
        self.reply()
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked: {}", self.message)
    }
}

impl std::error::Error for Panicked {}

/// Runs `f`, turning a panic into [`Panicked`].
///
/// The caller must not leave shared state half-updated in a way that
/// breaks its own invariants (the user's state may be; see the module
/// docs): that is why this takes `AssertUnwindSafe` on the caller's word.
pub fn contain<T>(f: impl FnOnce() -> T) -> Result<T, Panicked> {
    catch_unwind(AssertUnwindSafe(f)).map_err(Panicked::from_payload)
}

/// Runs user command `name`: its reply, its argument error as an error
/// reply, or its panic's error reply.
pub fn command_reply(name: &str, run: impl FnOnce() -> Result<Reply, ArgError>) -> Reply {
    match contain(run) {
        Ok(Ok(reply)) => reply,
        Ok(Err(e)) => Reply::Error(e.to_string()),
        Err(panicked) => panicked.reply_for(name),
    }
}

/// Runs a machine's snapshot save or restore: its error, or its panic as
/// an error.
pub fn contain_snapshot<T>(
    f: impl FnOnce() -> Result<T, SnapshotError>,
) -> Result<T, SnapshotError> {
    contain(f)?
}

/// Awaits `future`, turning a panic in any of its polls into [`Panicked`].
pub async fn contain_future<F: Future>(future: F) -> Result<F::Output, Panicked> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| match contain(|| future.as_mut().poll(cx)) {
        Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
        Ok(Poll::Pending) => Poll::Pending,
        Err(panicked) => Poll::Ready(Err(panicked)),
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_reply_with_its_message() {
        let caught = contain(|| -> i32 { panic!("index {} out of range", 7) }).unwrap_err();
        assert_eq!(
            caught.reply(),
            Reply::Error("ERR command panicked: index 7 out of range".into())
        );
        assert_eq!(contain(|| 5), Ok(5));
    }

    #[tokio::test]
    async fn a_panic_in_a_later_poll_is_caught_too() {
        let caught = contain_future(async {
            tokio::task::yield_now().await;
            panic!("after a yield")
        })
        .await;
        assert_eq!(caught.unwrap_err().to_string(), "panicked: after a yield");
        assert_eq!(contain_future(async { 3 }).await, Ok(3));
    }
}
