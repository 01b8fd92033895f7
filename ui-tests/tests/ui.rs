//! Compile-fail and compile-pass cases for `#[uhaha::machine]`.
//!
//! Each file in `tests/fail/` makes one mistake, named by the file, and its
//! `.stderr` pins the message and the span the user sees. Regenerate with
//! `TRYBUILD=overwrite cargo test -p uhaha-ui-tests` after a toolchain bump
//! (the toolchain is pinned in `rust-toolchain.toml`), then read every diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/fail/*.rs");
    t.pass("tests/pass/*.rs");
}
