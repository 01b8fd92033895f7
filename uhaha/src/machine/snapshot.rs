//! How a machine's state goes into a snapshot and comes back.
//!
//! A snapshot is taken in two steps, as in Go uhaha: while writes wait, the
//! machine captures a view of its state (cheap: an `Arc` clone, a
//! persistent map's clone, or for serde machines their encoded bytes);
//! then, while writes go on, the view saves itself into the snapshot file.
//! So a write never waits for a large state to be written out, and the
//! state is never in memory twice as bytes unless the machine chooses so.

use crate::codec;
use crate::error::SnapshotError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::{BufRead, Write};
use std::path::Path;

/// A machine's own snapshot format, for state that serde cannot save, or
/// saves too slowly, or that is too large to encode while writes wait.
/// Used with `#[uhaha::machine(snapshot = "custom")]`.
///
/// [`Snapshot::view`] runs while writes wait, so it must be cheap: it
/// captures an immutable view of the state, which the node then saves in
/// the background while later writes change the state. Here the counts sit
/// behind an [`Arc`](std::sync::Arc): the view is a second handle on them,
/// and a write that comes while a save runs copies them once
/// (`Arc::make_mut`) rather than change what is being saved. A machine
/// whose state is too large to copy even once keeps it in a persistent
/// map (one whose clone shares the unchanged parts, as the kvdb example
/// does with `imbl::OrdMap`).
///
/// ```
/// use std::collections::BTreeMap;
/// use std::io::{BufRead, Write};
/// use std::sync::Arc;
///
/// #[uhaha::machine(snapshot = "custom")]
/// #[derive(Default)]
/// struct Counters {
///     counts: Arc<BTreeMap<String, u64>>,
/// }
///
/// /// The counts as they were when the snapshot began.
/// struct CountsView(Arc<BTreeMap<String, u64>>);
///
/// impl uhaha::SnapshotView for CountsView {
///     fn save(&mut self, to: &mut dyn Write) -> Result<(), uhaha::SnapshotError> {
///         for (key, count) in self.0.iter() {
///             writeln!(to, "{key} {count}")?;
///         }
///         Ok(())
///     }
/// }
///
/// impl uhaha::Snapshot for Counters {
///     type View = CountsView;
///
///     fn view(&self) -> Result<CountsView, uhaha::SnapshotError> {
///         Ok(CountsView(self.counts.clone()))
///     }
///
///     fn restore(from: &mut dyn BufRead) -> Result<Self, uhaha::SnapshotError> {
///         let mut counts = BTreeMap::new();
///         for line in from.lines() {
///             let line = line?;
///             let (key, count) = line.split_once(' ').ok_or("a line without a count")?;
///             counts.insert(key.to_string(), count.parse().map_err(|_| "a bad count")?);
///         }
///         Ok(Counters { counts: Arc::new(counts) })
///     }
/// }
///
/// #[uhaha::machine]
/// impl Counters {
///     /// Counts one more of a key.
///     #[write]
///     fn incr(&mut self, key: String) -> u64 {
///         let count = Arc::make_mut(&mut self.counts).entry(key).or_default();
///         *count += 1;
///         *count
///     }
/// }
/// ```
pub trait Snapshot: Sized {
    /// What a snapshot holds of the state, taken by [`Snapshot::view`].
    type View: SnapshotView;

    /// Captures an immutable view of the state, while writes wait.
    fn view(&self) -> Result<Self::View, SnapshotError>;

    /// The state from what a view saved; any error fails the restore (and
    /// the start of a node that loads it). `from` is buffered: small reads
    /// are cheap.
    fn restore(from: &mut dyn BufRead) -> Result<Self, SnapshotError>;

    /// The state from what Go uhaha's `Snapshot.Persist` wrote for the same
    /// service, to migrate a Go cluster with `--restore`. Without it, such
    /// a restore fails with an error that says so.
    fn restore_go(from: &mut dyn BufRead) -> Result<Self, SnapshotError> {
        let _ = from;
        Err("this machine cannot read Go uhaha snapshots (implement Snapshot::restore_go)".into())
    }
}

/// A view of a machine's state that saves itself into a snapshot, while
/// writes go on (Go uhaha's `Snapshot`). `Vec<u8>` is one: a machine that
/// encodes itself in [`Snapshot::view`] returns its bytes.
pub trait SnapshotView: Send + 'static {
    /// Writes the view. `to` compresses as it goes and is buffered: small
    /// writes are cheap.
    fn save(&mut self, to: &mut dyn Write) -> Result<(), SnapshotError>;

    /// Called once the snapshot is on disk, with its file (whose payload
    /// is what [`SnapshotView::save`] wrote, compressed), or with `None`
    /// when it failed (the node logs why). Go uhaha's `Done(path)`.
    fn done(self, path: Option<&Path>)
    where
        Self: Sized,
    {
        let _ = path;
    }
}

impl SnapshotView for Vec<u8> {
    fn save(&mut self, to: &mut dyn Write) -> Result<(), SnapshotError> {
        Ok(to.write_all(self)?)
    }
}

/// A [`SnapshotView`] of any type, as the node holds it. Not public API.
#[doc(hidden)]
pub trait CapturedView: Send {
    /// [`SnapshotView::save`].
    fn save(&mut self, to: &mut dyn Write) -> Result<(), SnapshotError>;
    /// [`SnapshotView::done`].
    fn done(self: Box<Self>, path: Option<&Path>);
}

impl<V: SnapshotView> CapturedView for V {
    fn save(&mut self, to: &mut dyn Write) -> Result<(), SnapshotError> {
        SnapshotView::save(self, to)
    }

    fn done(self: Box<Self>, path: Option<&Path>) {
        SnapshotView::done(*self, path)
    }
}

/// `Machine::capture` for machines saved with serde: the encoded state.
pub fn capture_with_serde<M: Serialize>(
    machine: &M,
) -> Result<Box<dyn CapturedView>, SnapshotError> {
    Ok(Box::new(codec::encode(machine)?))
}

/// `Machine::load` for machines saved with serde.
pub fn load_with_serde<M: DeserializeOwned>(from: &mut dyn BufRead) -> Result<M, SnapshotError> {
    Ok(codec::decode_from(from)?)
}

/// `Machine::load_go` for machines saved with serde: Go uhaha's JSON
/// snapshots (`UseJSONSnapshots`), which load when the machine's serde
/// names match Go's field names (`#[serde(rename = "Ticket")]`). An empty
/// payload (Go's nil data) is the default state.
pub fn load_go_json<M: DeserializeOwned + Default>(
    from: &mut dyn BufRead,
) -> Result<M, SnapshotError> {
    if from.fill_buf()?.is_empty() {
        return Ok(M::default());
    }
    Ok(serde_json::from_reader(from)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Ticket {
        #[serde(rename = "Ticket")]
        ticket: u64,
    }

    #[test]
    fn serde_machines_round_trip_through_a_reader() {
        let mut view = capture_with_serde(&Ticket { ticket: 7 }).unwrap();
        let mut bytes = Vec::new();
        view.save(&mut bytes).unwrap();
        let back: Ticket = load_with_serde(&mut &bytes[..]).unwrap();
        assert_eq!(back, Ticket { ticket: 7 });
        bytes.push(0);
        assert!(
            load_with_serde::<Ticket>(&mut &bytes[..]).is_err(),
            "trailing bytes"
        );
    }

    #[test]
    fn go_json_snapshots_load_by_field_name() {
        let back: Ticket = load_go_json(&mut &br#"{"Ticket":42}"#[..]).unwrap();
        assert_eq!(back, Ticket { ticket: 42 });
        let nil: Ticket = load_go_json(&mut &b""[..]).unwrap();
        assert_eq!(nil, Ticket::default());
        assert!(load_go_json::<Ticket>(&mut &b"{"[..]).is_err());
    }
}
