//! The full surface of the DSL in one machine: every argument arity, the
//! context parameter in both forms, every kind of reply, a renamed command
//! and methods that are not commands.

use bytes::Bytes;
use std::collections::BTreeMap;
use uhaha::prelude::*;

/// A service for monotonically increasing tickets, and a few keys.
#[uhaha::machine(name = "ticket", version = "0.1.0")]
#[derive(Default)]
struct Ticket {
    ticket: i64,
    keys: BTreeMap<String, Vec<u8>>,
    #[serde(skip)]
    scratch: Option<u64>,
}

#[uhaha::machine]
impl Ticket {
    const LIMIT: usize = 1000;

    /// Returns a new ticket, at least one greater than the previous one.
    #[write]
    fn ticket(&mut self) -> i64 {
        self.ticket += 1;
        self.ticket
    }

    /// Returns the last ticket handed out.
    #[read]
    fn last(&self) -> i64 {
        self.ticket
    }

    /// Sets a key.
    ///
    /// Expires after `seconds` when given.
    #[write(name = "SETX")]
    fn set(&mut self, ctx: &mut Ctx, key: String, value: Vec<u8>, seconds: Option<f64>) {
        let _ = (ctx.now(), seconds);
        self.keys.insert(key, value);
    }

    /// Deletes keys.
    #[write]
    fn del(&mut self, key: String, more: Vec<String>) -> i64 {
        let mut n = 0;
        for key in std::iter::once(key).chain(more) {
            n += i64::from(self.keys.remove(&key).is_some());
        }
        n
    }

    /// Gets a key.
    #[read]
    fn get(&self, key: String) -> Option<Bytes> {
        self.keys.get(&key).map(|v| Bytes::copy_from_slice(v))
    }

    /// Adds to a number.
    #[write]
    fn incrby(&mut self, key: String, by: i64) -> Result<i64, String> {
        let old = match self.keys.get(&key) {
            Some(v) => std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or("value is not an integer")?,
            None => 0,
        };
        let new = old.checked_add(by).ok_or("increment would overflow")?;
        self.keys.insert(key, new.to_string().into_bytes());
        Ok(new)
    }

    /// Every key and value.
    #[read]
    fn all(&self, _ctx: &Ctx) -> BTreeMap<String, Bytes> {
        self.helper();
        self.keys
            .iter()
            .take(Self::LIMIT)
            .map(|(k, v)| (k.clone(), Bytes::copy_from_slice(v)))
            .collect()
    }

    /// The raw reply, for full control.
    #[write]
    fn raw(&mut self, ctx: &Ctx, _: Bytes, flags: Vec<bool>) -> Reply {
        self.scratch = Some(ctx.rand().next_u64());
        Reply::Array(flags.into_iter().map(Reply::Boolean).collect())
    }

    /// Keys, in order.
    #[read]
    fn r#keys(&self, _pattern: Option<String>) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }

    /// How many keys there are, as some reply.
    #[read]
    fn dbsize(&self) -> impl IntoReply {
        self.keys.len()
    }

    /// Nothing to say.
    #[write]
    fn noop(&mut self) -> () {}

    fn helper(&self) {}

    #[allow(dead_code)]
    fn associated() -> u8 {
        0
    }
}

fn main() {
    if std::env::args().count() > 100 {
        Ticket::serve();
    }
}
