//! A node's life: its config, the builder and the [`crate::Node`] handle,
//! starting (bootstrap or join), the command line, and shutdown.

pub mod address;
pub mod cli;
pub mod config;
pub mod handle;
pub mod join;
pub mod start;
