//! A test service whose commands take and return every kind of type, so
//! that the black-box tests can check argument parsing and reply encoding
//! end to end.

use std::collections::BTreeMap;
use uhaha::prelude::*;

/// Typed keys and counters.
#[uhaha::machine(name = "typed", version = "0.0.1")]
#[derive(Default)]
pub struct Typed {
    values: BTreeMap<String, Vec<u8>>,
    counters: BTreeMap<String, i64>,
    /// Every ROLL: the machine time and the random draws it saw.
    rolls: Vec<(u64, i64, f64, String)>,
}

#[uhaha::machine]
impl Typed {
    /// Sets a key to a binary value.
    #[write(key = "key")]
    fn set(&mut self, key: String, value: Vec<u8>) {
        self.values.insert(key, value);
    }

    /// Returns a key's value, or nil.
    #[read(key = "key")]
    fn get(&self, key: String) -> Option<Vec<u8>> {
        self.values.get(&key).cloned()
    }

    /// Deletes keys; returns how many existed.
    #[write(key = "key")]
    fn del(&mut self, key: String, more: Vec<String>) -> i64 {
        std::iter::once(key)
            .chain(more)
            .filter(|k| self.values.remove(k).is_some())
            .count() as i64
    }

    /// Adds to a counter and returns the new value.
    #[write(key = "key")]
    fn incrby(&mut self, key: String, by: i64) -> Result<i64, String> {
        let counter = self.counters.entry(key).or_default();
        *counter = counter
            .checked_add(by)
            .ok_or("increment or decrement would overflow")?;
        Ok(*counter)
    }

    /// Returns every key, in order.
    #[read]
    fn keys(&self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }

    /// Returns the counters as a map.
    #[read]
    fn counters(&self) -> BTreeMap<String, i64> {
        self.counters.clone()
    }

    /// Divides two floats.
    #[read]
    fn ratio(&self, a: f64, b: f64) -> f64 {
        a / b
    }

    /// Returns the flag it was given, negated if asked.
    #[read]
    fn flag(&self, value: bool, negate: Option<bool>) -> bool {
        value ^ negate.unwrap_or(false)
    }

    /// Returns the machine time in nanoseconds, advancing it.
    #[write]
    fn stamp(&mut self, ctx: &mut Ctx) -> u64 {
        ctx.now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }

    /// Draws a random number, keeps it with the machine time, returns it.
    #[write]
    fn roll(&mut self, ctx: &mut Ctx) -> u64 {
        let at = ctx
            .now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let mut rand = ctx.rand();
        let (n, float, uuid) = (rand.int(), rand.float(), rand.uuid());
        self.rolls.push((at, n, float, uuid));
        n as u64
    }

    /// Returns every roll so far as `time:number:float:uuid` strings.
    #[read]
    fn rolls(&self) -> Vec<String> {
        self.rolls
            .iter()
            .map(|(at, n, float, uuid)| format!("{at}:{n}:{float}:{uuid}"))
            .collect()
    }
}

fn main() {
    Typed::serve();
}
