//! The checkers: a history goes in, the violations come out.
//!
//! - [`register`]: linearizability of a read/write register per key, by
//!   the Wing-Gong-Lowe search (as Knossos and porcupine do it).
//! - [`counter`]: every acknowledged ticket is unique, and a ticket handed
//!   out after another one was acknowledged is greater than it.

pub mod counter;
pub mod register;

/// A part of the history that no correct system could have produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The key (for the counter, `""`).
    pub key: String,
    /// What is wrong, in one sentence.
    pub reason: String,
    /// Indices into the history of the operations to draw: all those of
    /// the key, or those involved.
    pub ops: Vec<usize>,
    /// The longest order of operations the checker could justify, as
    /// indices into the history (empty for the counter).
    pub order: Vec<usize>,
    /// The operations that could not be placed.
    pub culprits: Vec<usize>,
}

/// What a checker concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every history checks out.
    Valid,
    /// At least one violation.
    Invalid(Vec<Violation>),
    /// The search went over its budget on this key: neither proven nor
    /// refuted.
    GaveUp { key: String },
}
