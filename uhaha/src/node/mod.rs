//! A node's life: its config, the builder and the [`crate::Node`] handle,
//! starting (bootstrap or join), the command line, and shutdown.

pub mod address;
pub mod cli;
pub mod config;
pub mod handle;
pub mod join;
pub mod start;

/// The version line, as Go uhaha writes it (`-v`, `VERSION`, the start
/// log): `<name> version <version>[ (<build id>)]`.
pub fn version_line<M: crate::Machine>(build_id: Option<&str>) -> String {
    match build_id {
        Some(id) => format!("{} version {} ({id})", M::NAME, M::VERSION),
        None => format!("{} version {}", M::NAME, M::VERSION),
    }
}
