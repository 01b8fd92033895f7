//! A key-value store with expiring keys, replicated by Raft: uhaha's kvdb
//! example. See README.md for a walk through a three-node cluster.

mod subscriber;

use imbl::OrdMap;
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use uhaha::prelude::*;
use uhaha::sds::{ReadSds, WriteSds};

/// One key's value and times, in Unix nanoseconds of machine time.
#[derive(Debug, Clone)]
struct Entry {
    value: Bytes,
    created: u64,
    /// When the key expires; 0 for never.
    expires: u64,
}

/// A key-value store whose keys may expire.
#[uhaha::machine(name = "kvdb", version = "0.1.0", snapshot = "custom")]
#[derive(Default)]
struct Kvdb {
    /// The keys, in a persistent B-tree: a snapshot's view is a clone that
    /// shares every node, and later writes copy only the nodes they change
    /// (Go's kvdb copies its `tidwall/btree` the same way).
    keys: OrdMap<Bytes, Entry>,
    /// Keys by expiry time, so that a tick finds the expired ones at once;
    /// rebuilt from the keys on a restore.
    expiring: BTreeSet<(u64, Bytes)>,
}

/// The keys as they were when a snapshot began.
struct KeysView(OrdMap<Bytes, Entry>);

/// The snapshot is Go uhaha's kvdb format, so that a Go kvdb's snapshot
/// restores here as it is: a uvarint count, then for each key its name and
/// value (uvarint length and bytes) and its created and expires times
/// (8-byte little-endian).
impl uhaha::SnapshotView for KeysView {
    fn save(&mut self, to: &mut dyn Write) -> Result<(), uhaha::SnapshotError> {
        to.write_uvarint(self.0.len() as u64)?;
        for (key, entry) in self.0.iter() {
            to.write_bytes(key)?;
            to.write_bytes(&entry.value)?;
            to.write_all(&entry.created.to_le_bytes())?;
            to.write_all(&entry.expires.to_le_bytes())?;
        }
        Ok(())
    }

    fn done(self, path: Option<&Path>) {
        if let Some(path) = path {
            uhaha::tracing::info!(
                "kvdb snapshot of {} keys at {}",
                self.0.len(),
                path.display()
            );
        }
    }
}

impl uhaha::Snapshot for Kvdb {
    type View = KeysView;

    fn view(&self) -> Result<KeysView, uhaha::SnapshotError> {
        Ok(KeysView(self.keys.clone()))
    }

    fn restore(from: &mut dyn BufRead) -> Result<Self, uhaha::SnapshotError> {
        let mut kvdb = Kvdb::default();
        for _ in 0..from.read_uvarint()? {
            let key = Bytes::from(from.read_bytes()?);
            let value = Bytes::from(from.read_bytes()?);
            let mut times = [0u8; 16];
            from.read_exact(&mut times)?;
            let created = u64::from_le_bytes(times[..8].try_into()?);
            let expires = u64::from_le_bytes(times[8..].try_into()?);
            let entry = Entry {
                value,
                created,
                expires,
            };
            kvdb.put(key, entry);
        }
        Ok(kvdb)
    }

    /// The same format: a Go kvdb's snapshot.
    fn restore_go(from: &mut dyn BufRead) -> Result<Self, uhaha::SnapshotError> {
        Self::restore(from)
    }
}

impl Kvdb {
    /// Stores `entry` under `key`, keeping the expiry index in step. The
    /// key is cloned only into that index: the first clone of a `Bytes`
    /// allocates a shared header, which would live as long as the key.
    fn put(&mut self, key: Bytes, entry: Entry) {
        if let Some(old) = self.keys.get(&key).filter(|old| old.expires > 0) {
            self.expiring.remove(&(old.expires, key.clone()));
        }
        if entry.expires > 0 {
            self.expiring.insert((entry.expires, key.clone()));
        }
        self.keys.insert(key, entry);
    }
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
        let entry = Entry {
            value,
            created,
            expires,
        };
        self.put(key, entry);
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

    /// Sets a key to the wall-clock time, in Unix milliseconds, of the node
    /// that received the command: SETNOW key.
    ///
    /// An intermediate, not a write: a write runs on every node and again
    /// whenever the log is replayed, so it must not read a clock of its
    /// own (each run would store a different time); its `ctx.now()` is the
    /// machine time that the leader stamped on the log entry. Here the
    /// receiving node reads its clock once, outside the log, and hands the
    /// value to SET, which replicates it like any write.
    #[intermediate(key = "key")]
    fn setnow(key: Bytes) -> Result<Intermediate, String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| "the node's clock is before 1970")?;
        let millis = Bytes::from(now.as_millis().to_string());
        Ok(Intermediate::Command(vec![Bytes::from("SET"), key, millis]))
    }

    /// Publishes a message to a channel: PUBLISH channel message. A write,
    /// so that the subscribers of every node receive it; replies with the
    /// number of subscribers that received it on the node that answers
    /// (as a node of Redis Cluster counts its own).
    #[write]
    fn publish(&mut self, ctx: &mut Ctx, channel: Bytes, message: Bytes) -> usize {
        ctx.publish(channel, message)
    }

    /// Subscribes the connection to channels: SUBSCRIBE channel [channel ...].
    /// Works on every node, followers included.
    #[intermediate]
    fn subscribe(conn: &Conn, channel: Bytes, more: Vec<Bytes>) -> Intermediate {
        subscriber::enter(
            conn,
            command("SUBSCRIBE", std::iter::once(channel).chain(more)),
        )
    }

    /// Subscribes the connection to the channels that match glob patterns:
    /// PSUBSCRIBE pattern [pattern ...].
    #[intermediate]
    fn psubscribe(conn: &Conn, pattern: Bytes, more: Vec<Bytes>) -> Intermediate {
        subscriber::enter(
            conn,
            command("PSUBSCRIBE", std::iter::once(pattern).chain(more)),
        )
    }

    /// Ends subscriptions to channels (all without arguments):
    /// UNSUBSCRIBE [channel ...].
    #[intermediate]
    fn unsubscribe(conn: &Conn, channels: Vec<Bytes>) -> Intermediate {
        subscriber::enter(conn, command("UNSUBSCRIBE", channels))
    }

    /// Ends subscriptions to patterns (all without arguments):
    /// PUNSUBSCRIBE [pattern ...].
    #[intermediate]
    fn punsubscribe(conn: &Conn, patterns: Vec<Bytes>) -> Intermediate {
        subscriber::enter(conn, command("PUNSUBSCRIBE", patterns))
    }

    /// Answers a command this store does not have as Redis does, with the
    /// closest command's name as a hint:
    /// `ERR unknown command 'gte' (did you mean 'get'?), with args beginning with: 'k'`.
    #[catch_all]
    fn unknown(cmd: Vec<Bytes>) -> Reply {
        let name = String::from_utf8_lossy(&cmd[0]).into_owned();
        let hint = closest(&name, uhaha::command_names::<Self>())
            .map(|known| format!(" (did you mean '{}'?)", known.to_ascii_lowercase()))
            .unwrap_or_default();
        let args: String = cmd[1..]
            .iter()
            .take(8)
            .map(|arg| format!("'{}' ", String::from_utf8_lossy(arg)))
            .collect();
        Reply::Error(format!(
            "ERR unknown command '{name}'{hint}, with args beginning with: {args}"
        ))
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

/// A command from its name and its arguments.
fn command(name: &'static str, args: impl IntoIterator<Item = Bytes>) -> Vec<Bytes> {
    std::iter::once(Bytes::from(name)).chain(args).collect()
}

/// The known name closest to `name`, ignoring case, if it is close enough
/// to be a typo: at most two edits away, and fewer than its length.
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let name = name.to_ascii_uppercase();
    known
        .map(|candidate| (typo_distance(&name, candidate), candidate))
        .filter(|&(distance, _)| distance <= 2 && distance < name.len())
        .min()
        .map(|(_, candidate)| candidate)
}

/// The edits (insert, delete, substitute, swap two neighbours) that turn
/// `a` into `b`: Damerau-Levenshtein's optimal string alignment distance.
fn typo_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut rows = vec![(0..=b.len()).collect::<Vec<usize>>()];
    for i in 1..=a.len() {
        let mut row = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (rows[i - 1][j] + 1)
                .min(row[j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(rows[i - 2][j - 2] + 1);
            }
        }
        rows.push(row);
    }
    rows[a.len()][b.len()]
}

/// Runs a node of the key-value store with uhaha's command line.
pub fn serve() -> ! {
    Kvdb::serve()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_one_or_two_edits() {
        assert_eq!(typo_distance("GTE", "GET"), 1);
        assert_eq!(typo_distance("SETT", "SET"), 1);
        assert_eq!(typo_distance("DBSZE", "DBSIZE"), 1);
        assert_eq!(typo_distance("", "GET"), 3);
        assert_eq!(typo_distance("KEYS", "KEYS"), 0);
    }

    #[test]
    fn the_closest_known_name_is_suggested() {
        let known = || ["GET", "SET", "SETNOW", "DBSIZE", "PING"].into_iter();
        assert_eq!(closest("gte", known()), Some("GET"));
        assert_eq!(closest("setnwo", known()), Some("SETNOW"));
        assert_eq!(closest("xyzzy", known()), None);
        assert_eq!(closest("x", known()), None);
    }
}
