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
//!
//! # How the crate is laid out, and how a command flows through it
//!
//! - `machine/`: what a user's machine is: the [`Machine`] trait, [`Ctx`]
//!   (deterministic time and random numbers), snapshots (captured views,
//!   custom [`Snapshot`]s, Go uhaha's formats, [`sds`]), the version line,
//!   and the containment of panics in user code.
//! - `command/`: the command table the macro generates, [`FromArg`],
//!   [`IntoReply`], [`Reply`], help texts and `COMMAND DOCS`, the built-in
//!   commands' names, the framework's [`ErrorCode`]s, [`CommandError`].
//! - `server/`: the server side of client connections: the listener, which
//!   tells TLS, Raft peers, custom [`Service`]s and Redis clients apart on
//!   the one port; request framing (`resp`); the connection loop and its
//!   reply queue; the session; dispatch; the built-in command bodies
//!   (`INFO`, `CLIENT`, `RAFT`, `CLUSTER`); `MONITOR`; observers; hooks; readiness
//!   and the HTTP endpoints (`/livez`, `/readyz`, `/metrics`).
//! - `raft/`: the engine glue: type config, the append-only log store,
//!   state machine, proposer, read barrier, peer protocol and network,
//!   membership, the state-change log, ticker, snapshot files and their
//!   policy. Openraft's types stay in here.
//! - `metrics/`: the Prometheus registry. `raft/` and `server/` get their
//!   counters from it; at each scrape it reads Raft's state and the
//!   server's client count.
//! - `node/`: a node's life: its [`Config`] and its validation, the
//!   [`NodeBuilder`] and the [`Node`] handle, start (bootstrap or join),
//!   the command line, shutdown.
//! - `client/`: the Rust [`Client`] (and what typed clients need).
//! - `error.rs` ([`ConfigError`], [`StartError`]), `tasks.rs` (every task
//!   a node starts, owned and awaited at shutdown), `tls.rs`, `secret.rs`,
//!   `codec.rs`.
//!
//! Imports run one way: `node/` builds the parts and hands the server side
//! its handle (`server::Server`); `server/` never imports `node/`; `raft/`
//! never imports `server/`; `machine/` imports neither.
//!
//! A command's way through a node:
//!
//! 1. `server::listener` accepts a connection and sniffs its first bytes;
//!    a Redis client goes to `server::connection`, which reads bytes and
//!    splits them into commands (`server::resp`), many per read.
//! 2. `server::dispatch` answers built-ins, checks a user command's arity
//!    and arguments (a bad one never reaches the log), and routes it.
//! 3. A write goes to the connection's `server::reply_queue`, which
//!    proposes the writes it parsed in a row together to `raft::proposer`; it
//!    batches every waiting proposal into one log entry stamped with the
//!    leader's time and a seed.
//! 4. Once the entry commits, `raft::state_machine` applies it on every
//!    node in order (user code contained by `machine::contain`) and hands
//!    each reply back to its connection's reply queue.
//! 5. A read waits for `raft::read_barrier` (one leadership confirmation
//!    for a batch of reads) and runs against the applied state.
//! 6. The connection writes the replies in request order, one flush per
//!    batch.

mod client;
mod codec;
mod command;
pub mod duration;
mod error;
pub mod glob;
mod machine;
mod metrics;
mod node;
pub mod pubsub;
mod raft;
mod secret;
mod server;
mod tasks;
mod tls;

pub use bytes::Bytes;
/// The `clap` crate of uhaha's command line, for a program's own flags
/// (`use uhaha::clap;` then `#[derive(clap::Args)]`; see
/// [`NodeBuilder::command_line`]).
pub use clap;
pub use client::{Client, ClientBuilder, ClientError, ReplyError};
pub use command::{
    command_names, ArgError, ArrayElement, CommandError, ErrorCode, FromArg, FromReply,
    FromReplyError, Intermediate, IntoErrorReply, IntoIntermediate, IntoReply, Protocol, Reply,
    ToArg,
};
pub use error::{ConfigError, SnapshotError, StartError};
pub use machine::{sds, Ctx, Machine, Rand, Snapshot, SnapshotView};
pub use node::config::{Config, LogLevel};
pub use node::handle::{Node, NodeBuilder, Serving};
pub use raft::{LogError, Redirect};
pub use rand_core::RngCore;
pub use server::conn::{Conn, ConnData};
pub use server::hijack::{Hijack, Hijacked};
pub use server::hooks::Role;
pub use server::observers::Observed;
pub use server::resp::Limits;
pub use server::service::{Service, ServiceConn, Sniff};
pub use tls::Stream;
/// The `rustls` crate of uhaha's TLS, for [`ClientBuilder::tls_config`].
pub use tokio_rustls::rustls;
/// The `tracing` crate the node logs with, so that commands, services and
/// hooks log through the node's level and output with no version skew:
/// `uhaha::tracing::info!("...")`.
pub use tracing;
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
    pub use crate::error::SnapshotError;
    pub use crate::machine::{
        capture_with_serde, load_go_json, load_with_serde, CapturedView, Ctx, Machine, Snapshot,
    };
    pub use crate::node::handle::serve;
    pub use crate::server::conn::Conn;
    pub use core::result::Result;
    pub use serde;
    pub use std::boxed::Box;
    pub use std::io::BufRead;

    /// A connection without a client, for tests that run generated
    /// `#[intermediate]` and `#[catch_all]` code by hand.
    pub fn test_conn() -> Conn {
        Conn::new(
            0,
            std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
            Default::default(),
        )
    }
}
