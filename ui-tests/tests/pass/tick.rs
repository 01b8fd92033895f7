//! `#[tick]` methods in each form: with `&mut Ctx`, with `&Ctx`, and
//! without the context. The tick is not a command.

use std::collections::BTreeMap;
use std::time::SystemTime;
use uhaha::__private::Commands;
use uhaha::prelude::*;

/// Keys that expire.
#[uhaha::machine]
#[derive(Default)]
struct Kv {
    keys: BTreeMap<String, (String, Option<SystemTime>)>,
}

#[uhaha::machine]
impl Kv {
    /// Sets a key that expires after `seconds`.
    #[write]
    fn set(&mut self, ctx: &mut Ctx, key: String, value: String, seconds: Option<u64>) {
        let at = seconds.map(|s| ctx.now() + std::time::Duration::from_secs(s));
        self.keys.insert(key, (value, at));
    }

    /// Drops expired keys.
    #[tick]
    fn expire(&mut self, ctx: &mut Ctx) {
        let now = ctx.now();
        self.keys.retain(|_, (_, at)| at.map_or(true, |at| at > now));
    }

    /// Gets a key.
    #[read]
    fn get(&self, key: String) -> Option<String> {
        self.keys.get(&key).map(|(value, _)| value.clone())
    }
}

/// Counts ticks, without looking at the clock.
#[uhaha::machine]
#[derive(Default)]
struct Ticks {
    n: u64,
}

#[uhaha::machine]
impl Ticks {
    #[tick]
    fn tick(&mut self) {
        self.n += 1;
    }

    /// How many ticks there were.
    #[read]
    fn count(&self) -> u64 {
        self.n
    }
}

/// Remembers the last tick's time; the context is only read.
#[uhaha::machine]
#[derive(Default)]
struct LastTick {
    at: Option<SystemTime>,
}

#[uhaha::machine]
impl LastTick {
    /// Remembers the time.
    #[tick]
    fn remember(&mut self, ctx: &Ctx<'_>) -> () {
        self.at = Some(ctx.now());
    }
}

fn main() {
    let names = |commands: &[uhaha::__private::CommandSpec]| -> Vec<&str> {
        commands.iter().map(|c| c.name).collect()
    };
    assert_eq!(names(Kv::COMMANDS), ["SET", "GET"]);
    assert_eq!(names(Ticks::COMMANDS), ["COUNT"]);
    assert!(LastTick::COMMANDS.is_empty());
    if std::env::args().count() > 100 {
        Kv::serve();
    }
}
