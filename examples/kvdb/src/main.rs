//! A key-value store with expiring keys, replicated by Raft: uhaha's kvdb
//! example. See README.md for a walk through a three-node cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::time::UNIX_EPOCH;
use uhaha::prelude::*;

/// One key's value and times, in Unix nanoseconds of machine time.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Entry {
    value: Bytes,
    created: u64,
    /// When the key expires; 0 for never.
    expires: u64,
}

/// A key-value store whose keys may expire.
#[uhaha::machine(name = "kvdb", version = "0.1.0")]
#[derive(Default)]
struct Kvdb {
    keys: BTreeMap<Bytes, Entry>,
    /// Keys by expiry time, so that a tick finds the expired ones at once.
    expiring: BTreeSet<(u64, Bytes)>,
}

fn nanos(ctx: &Ctx) -> u64 {
    ctx.now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[uhaha::machine]
impl Kvdb {
    /// Sets a key to a value, with an optional expiry: SET key value [EX seconds].
    ///
    /// Test hook (as in uhaha's kvdb): without EX, a key that starts with
    /// `key:` set to exactly `xxx` expires after a random 0 to 10 seconds
    /// (or never, when the machine's random number is odd or rounds to 0).
    #[write(key = "key")]
    fn set(
        &mut self,
        ctx: &mut Ctx,
        key: Bytes,
        value: Bytes,
        options: Vec<String>,
    ) -> Result<(), String> {
        let seconds = match options.as_slice() {
            [] if key.starts_with(b"key:") && value.as_ref() == b"xxx" => {
                let r = ctx.rand().next_u64() >> 1;
                if r.is_multiple_of(2) {
                    (r % 1_000_000) as f64 / 100_000.0
                } else {
                    0.0
                }
            }
            [] => 0.0,
            [ex, seconds] if ex.eq_ignore_ascii_case("EX") => match seconds.parse::<f64>() {
                Ok(s) if s > 0.0 && s.is_finite() => s,
                _ => return Err("syntax error".into()),
            },
            _ => return Err("syntax error".into()),
        };
        let created = nanos(ctx);
        let expires = if seconds > 0.0 {
            created + (seconds * 1e9) as u64
        } else {
            0
        };
        if let Some(old) = self.keys.insert(
            key.clone(),
            Entry {
                value,
                created,
                expires,
            },
        ) {
            self.expiring.remove(&(old.expires, key.clone()));
        }
        if expires > 0 {
            self.expiring.insert((expires, key));
        }
        Ok(())
    }

    /// Returns a key's value, or nil when it does not exist or has expired.
    #[read(key = "key")]
    fn get(&self, ctx: &Ctx, key: Bytes) -> Option<Bytes> {
        let entry = self.keys.get(&key)?;
        let live = entry.expires == 0 || entry.expires > nanos(ctx);
        live.then(|| entry.value.clone())
    }

    /// Deletes keys; returns how many existed.
    #[write(key = "key")]
    fn del(&mut self, key: Bytes, more: Vec<Bytes>) -> i64 {
        let mut deleted = 0;
        for key in std::iter::once(key).chain(more) {
            if let Some(old) = self.keys.remove(&key) {
                self.expiring.remove(&(old.expires, key));
                deleted += 1;
            }
        }
        deleted
    }

    /// Returns the keys that match a glob pattern (`*`, `?`, `[a-z]`), in order.
    #[read]
    fn keys(&self, pattern: Bytes) -> Vec<Bytes> {
        // Only keys that start with the pattern's literal prefix can match.
        let prefix_len = pattern
            .iter()
            .position(|b| b"*?[\\".contains(b))
            .unwrap_or(pattern.len());
        let prefix = pattern.slice(..prefix_len);
        self.keys
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .filter(|(k, _)| uhaha::glob::matches(&pattern, k))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Returns the number of keys.
    #[read]
    fn dbsize(&self) -> usize {
        self.keys.len()
    }

    /// Deletes the keys whose time has come, on every node at each tick.
    #[tick]
    fn expire(&mut self, ctx: &mut Ctx) {
        let now = nanos(ctx);
        while let Some((expires, key)) = self.expiring.first().cloned() {
            if expires > now {
                break;
            }
            self.expiring.pop_first();
            self.keys.remove(&key);
        }
    }
}

fn main() {
    Kvdb::serve();
}
