//! The errors a command answers with: uhaha's well-known ones, any Redis
//! error code, or any message, all through the command's `Result`.

use super::{ErrorCode, Reply};
use std::fmt;

/// A command's error of a kind the framework knows (Go uhaha's
/// `ErrNotLeader`, `ErrSyntaxError`, `ErrInvalid`), or with an error code
/// of the command's choosing.
///
/// A command returns it as the error of its `Result`, as it would any
/// `Display` error:
///
/// ```
/// use std::collections::BTreeMap;
/// use uhaha::CommandError;
///
/// #[uhaha::machine]
/// #[derive(Default)]
/// struct Store {
///     lists: BTreeMap<String, Vec<String>>,
///     counters: BTreeMap<String, i64>,
/// }
///
/// #[uhaha::machine]
/// impl Store {
///     /// Adds to a counter: INCRBY key n. A key that holds a list is the
///     /// client's `WRONGTYPE` error, as in Redis.
///     #[write]
///     fn incrby(&mut self, key: String, n: i64) -> Result<i64, CommandError> {
///         if self.lists.contains_key(&key) {
///             return Err(CommandError::code(
///                 "WRONGTYPE",
///                 "Operation against a key holding the wrong kind of value",
///             ));
///         }
///         let counter = self.counters.entry(key).or_default();
///         *counter = counter.checked_add(n).ok_or(CommandError::InvalidArgument)?;
///         Ok(*counter)
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// This node cannot serve the command: the client is sent to the
    /// leader (`MOVED 0 <addr>`, or `TRY <addr>` with `--try-errors`), or
    /// told `CLUSTERDOWN` when no leader is known. For reads served from
    /// local state (`--openreads`) and intermediates that need the
    /// leader's view. A `#[write]` runs on every node, so there (and on the
    /// leader) it is the error `ERR not leader`.
    NotLeader,
    /// `ERR syntax error`.
    Syntax,
    /// `ERR invalid argument`.
    InvalidArgument,
    /// `<CODE> <message>`: an error code of the command's own
    /// (`WRONGTYPE`, `NOPERM`, ...); see [`CommandError::code`].
    Code {
        /// The code, upper-case letters.
        code: String,
        /// The words after it.
        message: String,
    },
}

impl CommandError {
    /// An error with a code of the command's own. A code that is not all
    /// upper-case letters, or one the framework reserves
    /// ([`ErrorCode`]: `MOVED`, `CLUSTERDOWN`, ...), goes behind `ERR`, so
    /// that no client mistakes a command's error for the framework's.
    pub fn code(code: impl Into<String>, message: impl Into<String>) -> CommandError {
        CommandError::Code {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The reply; `NotLeader`'s is reserved, for the node to turn into a
    /// redirect ([`Reply::is_not_leader`]).
    fn reply(self) -> Reply {
        match self {
            CommandError::NotLeader => ErrorCode::NotLeader.reply("the command needs the leader"),
            CommandError::Syntax => Reply::error("syntax error"),
            CommandError::InvalidArgument => Reply::error("invalid argument"),
            CommandError::Code { code, message } => Reply::error(format_args!("{code} {message}")),
        }
    }
}

/// What the error of a command's `Result` may be: any `Display` error
/// (`ERR <text>`, or its own code when the text starts with one) or a
/// [`CommandError`].
pub trait IntoErrorReply {
    /// The error reply.
    fn into_error_reply(self) -> Reply;
}

impl<E: fmt::Display> IntoErrorReply for E {
    fn into_error_reply(self) -> Reply {
        Reply::error(self)
    }
}

impl IntoErrorReply for CommandError {
    fn into_error_reply(self) -> Reply {
        self.reply()
    }
}
