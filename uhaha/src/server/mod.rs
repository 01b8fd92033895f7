//! The server side of client connections: the listener that tells TLS,
//! Raft peers, custom services and Redis clients apart on the one port; the
//! request framing; the connection loop and its reply queue; the session
//! (authentication, protocol, name); dispatch of each command; the bodies
//! of the built-in commands (`INFO`, `CLIENT`, `RAFT`, `CLUSTER`);
//! `MONITOR`; hooks and custom services.

pub mod clients;
pub mod cluster_commands;
pub mod conn;
pub mod connection;
pub mod dispatch;
pub mod hooks;
pub mod info;
pub mod intermediates;
pub mod listener;
pub mod monitor;
pub mod resp;
pub mod service;
pub mod session;
