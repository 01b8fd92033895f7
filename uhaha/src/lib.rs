//! # uhaha
//!
//! Turn an annotated Rust struct into a highly available, Raft-replicated
//! service that any Redis client can talk to.
//!
//! ```no_run
//! use uhaha::prelude::*;
//!
//! /// A service for monotonically increasing tickets.
//! #[uhaha::machine(name = "ticket", version = "0.1.0")]
//! #[derive(Default)]
//! struct Ticket {
//!     ticket: i64,
//! }
//!
//! #[uhaha::machine]
//! impl Ticket {
//!     /// Returns a new ticket, at least one greater than the previous one.
//!     #[write]
//!     fn ticket(&mut self) -> i64 {
//!         self.ticket += 1;
//!         self.ticket
//!     }
//!
//!     /// Returns the last ticket handed out.
//!     #[read]
//!     fn last(&self) -> i64 {
//!         self.ticket
//!     }
//! }
//!
//! fn main() {
//!     Ticket::serve();
//! }
//! ```
//!
//! `#[uhaha::machine]` goes on the struct (the replicated state, saved with
//! serde) and on its impl block, where `#[write]` methods (`&mut self`, run
//! through the Raft log on every node) and `#[read]` methods (`&self`, run on
//! the leader, linearizable) become Redis commands named after the method.
//! Parameters are read from the command's arguments through [`FromArg`];
//! return values become replies through [`IntoReply`]; doc comments become
//! `HELP` and `COMMAND DOCS` text.

mod client;
mod codec;
mod command;
pub mod duration;
mod error;
pub mod glob;
mod machine;
mod node;
mod raft;
mod secret;
mod server;
mod tasks;
mod tls;

pub use bytes::Bytes;
pub use client::{Client, ClientBuilder, ClientError, ReplyError};
pub use command::{
    command_names, ArgError, ArrayElement, ErrorCode, FromArg, FromReply, FromReplyError,
    Intermediate, IntoIntermediate, IntoReply, Reply, ToArg,
};
pub use error::{ConfigError, StartError};
pub use machine::{Ctx, Machine, Rand, Snapshot};
pub use node::config::Config;
pub use node::handle::{Node, NodeBuilder};
pub use raft::Redirect;
pub use rand_core::RngCore;
pub use server::conn::{Conn, ConnData};
pub use server::hooks::Role;
pub use server::resp::Limits;
pub use server::service::{Service, ServiceConn, Sniff};
pub use tls::Stream;
pub use uhaha_macros::machine;

/// What a service's source needs: `use uhaha::prelude::*;`.
pub mod prelude {
    pub use crate::{Bytes, Conn, Ctx, Intermediate, IntoReply, Reply, RngCore};
}

/// Items for the code that `#[uhaha::machine]` generates. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::client::{Client, ClientError};
    pub use crate::command::{
        assert_not_builtin, ArgError, Args, Arity, Call, CommandSpec, Commands, FromArg, FromReply,
        IntermediateFuture, IntoIntermediate, IntoReply, Kind, Param, Reply, ToArg,
    };
    pub use crate::machine::{load_with_serde, save_with_serde, Ctx, Machine, Snapshot};
    pub use crate::node::handle::serve;
    pub use crate::server::conn::Conn;
    pub use core::result::Result;
    pub use serde;
    pub use std::boxed::Box;

    /// A connection without a client, for tests that run generated
    /// `#[intermediate]` and `#[catch_all]` code by hand.
    pub fn test_conn() -> Conn {
        Conn::new(0, std::net::SocketAddr::from(([0, 0, 0, 0], 0)))
    }
}
