//! Named steps of the log's writes where the crash tests kill the process.
//!
//! In the test build, `UHAHA_LOG_CRASH_AT=<step>:<n>` aborts the process
//! (as `kill -9` would: what was written stays in the page cache, nothing
//! more) the `n`th time it reaches `step`. Elsewhere a crash point is
//! nothing at all.

#[cfg(not(test))]
#[inline(always)]
pub(super) fn crash_point(_step: &str) {}

#[cfg(test)]
pub(super) use armed::{crash_point, VAR};

#[cfg(test)]
mod armed {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;

    /// The environment variable that arms a crash point.
    pub const VAR: &str = "UHAHA_LOG_CRASH_AT";

    /// The step and the time it is reached at that aborts, if armed.
    fn armed() -> Option<&'static (String, u64)> {
        static ARMED: OnceLock<Option<(String, u64)>> = OnceLock::new();
        ARMED
            .get_or_init(|| {
                let value = std::env::var(VAR).ok()?;
                let (step, n) = value.split_once(':')?;
                Some((step.to_string(), n.parse().ok()?))
            })
            .as_ref()
    }

    pub(in crate::raft::log_store) fn crash_point(step: &str) {
        static REACHED: AtomicU64 = AtomicU64::new(0);
        let Some((armed, n)) = armed() else { return };
        if armed == step && REACHED.fetch_add(1, Ordering::SeqCst) + 1 == *n {
            std::process::abort();
        }
    }
}
