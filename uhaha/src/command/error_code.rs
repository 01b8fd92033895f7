//! The error codes a node answers with on its own, beyond `ERR`, and what
//! each one promises about the command. One list, for the node that answers
//! and for the clients that decide what to do next (uhaha's own, and Redis
//! Cluster clients, which already follow `MOVED`, `TRY` and `CLUSTERDOWN`).
//! A client decides by the code, never by the words after it.

use super::Reply;
use std::fmt;

/// A reply's error code that the framework reserves.
///
/// ```
/// use uhaha::ErrorCode;
///
/// assert_eq!(ErrorCode::of("MOVED 0 127.0.0.1:11001"), Some(ErrorCode::Moved));
/// assert_eq!(ErrorCode::of("ERR syntax error"), None);
/// assert!(ErrorCode::ClusterDown.did_not_run());
/// assert!(!ErrorCode::Shutdown.did_not_run());
/// assert_eq!(ErrorCode::of("UNCERTAIN leader changed"), Some(ErrorCode::Uncertain));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `MOVED 0 <addr>`: the command must go to the leader at `addr`; it did
    /// not run here.
    Moved,
    /// `ASK`: reserved for Redis Cluster compatibility; never sent.
    Ask,
    /// `TRY <addr>`: `MOVED` in uhaha's form (`--try-errors`).
    Try,
    /// `CLUSTERDOWN ...`: no leader is known, or this node cannot serve now;
    /// the command did not run, and may be sent again shortly.
    ClusterDown,
    /// `SHUTDOWN ...`: the node stopped while the command was under way; it
    /// may or may not have run, so sending it again may run it twice.
    Shutdown,
    /// `UNCERTAIN ...`: the leader changed while the command was under way
    /// and its entry left this node's log; another node may still have it
    /// and commit it, so it may or may not run.
    Uncertain,
    /// `NOTLEADER ...`: a command's own [`crate::CommandError::NotLeader`],
    /// which the node turns into `MOVED`, `TRY` or `CLUSTERDOWN` before a
    /// client sees it; reserved so that no command's text can forge it.
    NotLeader,
}

impl ErrorCode {
    const ALL: [ErrorCode; 7] = [
        ErrorCode::Moved,
        ErrorCode::Ask,
        ErrorCode::Try,
        ErrorCode::ClusterDown,
        ErrorCode::Shutdown,
        ErrorCode::Uncertain,
        ErrorCode::NotLeader,
    ];

    /// The code as it starts an error reply.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Moved => "MOVED",
            ErrorCode::Ask => "ASK",
            ErrorCode::Try => "TRY",
            ErrorCode::ClusterDown => "CLUSTERDOWN",
            ErrorCode::Shutdown => "SHUTDOWN",
            ErrorCode::Uncertain => "UNCERTAIN",
            ErrorCode::NotLeader => "NOTLEADER",
        }
    }

    /// The reserved code an error reply's text starts with, if any.
    pub fn of(error: &str) -> Option<ErrorCode> {
        let code = error.split(' ').next()?;
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// Whether a command answered with this code certainly did not run, so
    /// that sending it again (elsewhere) cannot run it twice.
    pub fn did_not_run(self) -> bool {
        !matches!(self, ErrorCode::Shutdown | ErrorCode::Uncertain)
    }

    /// The error reply `<CODE> <detail>`.
    pub fn reply(self, detail: impl fmt::Display) -> Reply {
        Reply::Error(format!("{} {detail}", self.as_str()))
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
