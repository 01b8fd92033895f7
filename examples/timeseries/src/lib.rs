//! A time series store with retention, replicated by Raft: uhaha's
//! timeseries example. See README.md for a walk through a three-node
//! cluster.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::time::UNIX_EPOCH;
use uhaha::duration;
use uhaha::prelude::*;
use uhaha::sds::{ReadSds, WriteSds};

/// Seven days, the retention a new store starts with.
const WEEK: i64 = 7 * 24 * 3600 * 1_000_000_000;

/// Measurements of points: each point a timestamp (Unix nanoseconds) and
/// its fields.
#[uhaha::machine(name = "timeseries", version = "0.0.1", snapshot = "custom")]
struct Timeseries {
    series: BTreeMap<String, BTreeSet<(i64, String)>>,
    total_sets: u64,
    total_dels: u64,
    /// How long points are kept, in nanoseconds.
    retain: i64,
}

impl Default for Timeseries {
    fn default() -> Self {
        Timeseries {
            series: BTreeMap::new(),
            total_sets: 0,
            total_dels: 0,
            retain: WEEK,
        }
    }
}

/// The snapshot is Go uhaha's timeseries format, so that a Go timeseries'
/// snapshot restores as it is: uvarint total sets and total deletes, the
/// retention as a zig-zag varint, a uvarint point count, then each point
/// as its measurement and its key, `<%020d timestamp> <fields>` (uvarint
/// length and bytes). The view is those bytes, encoded while writes wait
/// (as Go's JSON snapshots are): simple, for a store this size.
impl uhaha::Snapshot for Timeseries {
    type View = Vec<u8>;

    fn view(&self) -> Result<Vec<u8>, uhaha::SnapshotError> {
        let mut out = Vec::new();
        out.write_uvarint(self.total_sets)?;
        out.write_uvarint(self.total_dels)?;
        out.write_varint(self.retain)?;
        let points: usize = self.series.values().map(BTreeSet::len).sum();
        out.write_uvarint(points as u64)?;
        for (measurement, points) in &self.series {
            for (ts, fields) in points {
                out.write_bytes(measurement.as_bytes())?;
                out.write_bytes(format!("{ts:020} {fields}").as_bytes())?;
            }
        }
        Ok(out)
    }

    fn restore(from: &mut dyn BufRead) -> Result<Self, uhaha::SnapshotError> {
        let mut store = Timeseries {
            total_sets: from.read_uvarint()?,
            total_dels: from.read_uvarint()?,
            retain: from.read_varint()?,
            series: BTreeMap::new(),
        };
        for _ in 0..from.read_uvarint()? {
            let measurement = String::from_utf8(from.read_bytes()?)?;
            let key = String::from_utf8(from.read_bytes()?)?;
            let (ts, fields) = key.split_once(' ').ok_or("a point without fields")?;
            let ts = ts.parse().map_err(|_| format!("a bad timestamp {ts:?}"))?;
            let points = store.series.entry(measurement).or_default();
            points.insert((ts, fields.to_string()));
        }
        Ok(store)
    }

    /// The same format: a Go timeseries' snapshot.
    fn restore_go(from: &mut dyn BufRead) -> Result<Self, uhaha::SnapshotError> {
        Self::restore(from)
    }
}

/// A timestamp argument: `now`, Unix nanoseconds, or a Go duration from
/// now (`-5m`, `1h30m`).
fn timestamp(ctx: &Ctx, text: &str) -> Result<i64, String> {
    let now = || {
        ctx.now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64)
    };
    if text == "now" {
        return Ok(now());
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map_err(|_| "value is not an integer or out of range".into());
    }
    Ok(now() + duration::parse(text)?)
}

#[uhaha::machine]
impl Timeseries {
    /// Writes a point: WRITE measurement timestamp fields. The timestamp is
    /// `now`, Unix nanoseconds, or a duration from now such as `-5m`.
    #[write(key = "measurement")]
    fn write(
        &mut self,
        ctx: &mut Ctx,
        measurement: String,
        timestamp: String,
        fields: String,
    ) -> Result<(), String> {
        if measurement.contains(' ') || fields.contains(' ') {
            return Err("syntax error".into());
        }
        let ts = self::timestamp(ctx, &timestamp)?;
        if self
            .series
            .entry(measurement)
            .or_default()
            .insert((ts, fields))
        {
            self.total_sets += 1;
        }
        Ok(())
    }

    /// Returns up to `limit` (a number or `all`) points of a measurement
    /// from `start` (included) to `end` (excluded), oldest first.
    #[read(key = "measurement")]
    fn query(
        &self,
        ctx: &Ctx,
        measurement: String,
        start: String,
        end: String,
        limit: String,
    ) -> Result<Vec<String>, String> {
        let (start, end) = (timestamp(ctx, &start)?, timestamp(ctx, &end)?);
        if measurement.bytes().any(|b| b <= b' ') {
            return Err("syntax error".into());
        }
        let limit = match limit.as_str() {
            "all" => usize::MAX,
            n => n
                .parse()
                .map_err(|_| format!("strconv.ParseUint: parsing \"{n}\": invalid syntax"))?,
        };
        let Some(points) = self.series.get(&measurement) else {
            return Ok(Vec::new());
        };
        Ok(points
            .range((start, String::new())..)
            .take_while(|(ts, _)| *ts < end)
            .take(limit)
            .map(|(ts, fields)| format!("{measurement} {ts} {fields}"))
            .collect())
    }

    /// Returns the retention, or sets it with a duration such as `24h`.
    #[write]
    fn retain(&mut self, duration: Option<String>) -> Result<Reply, String> {
        match duration {
            None => Ok(Reply::bulk(duration::format(self.retain))),
            Some(text) => match duration::parse(&text) {
                Ok(nanos) if nanos >= 0 => {
                    self.retain = nanos;
                    Ok(Reply::ok())
                }
                _ => Err("syntax error".into()),
            },
        }
    }

    /// Returns the store's figures.
    #[read]
    fn stats(&self) -> BTreeMap<&'static str, Reply> {
        let points: usize = self.series.values().map(BTreeSet::len).sum();
        BTreeMap::from([
            ("num_measurements", Reply::Integer(self.series.len() as i64)),
            ("num_points", Reply::Integer(points as i64)),
            ("retain", Reply::bulk(duration::format(self.retain))),
            ("total_dels", Reply::Integer(self.total_dels as i64)),
            ("total_sets", Reply::Integer(self.total_sets as i64)),
        ])
    }

    /// Drops the points older than the retention, on every node at each tick.
    #[tick]
    fn drop_old_points(&mut self, ctx: &mut Ctx) {
        let now = ctx
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let cutoff = now.saturating_sub(self.retain);
        let mut dels = 0;
        self.series.retain(|_, points| {
            while points.first().is_some_and(|(ts, _)| *ts < cutoff) {
                points.pop_first();
                dels += 1;
            }
            !points.is_empty()
        });
        self.total_dels += dels;
    }
}

/// Runs a node of the time series store with uhaha's command line.
pub fn serve() -> ! {
    Timeseries::serve()
}
