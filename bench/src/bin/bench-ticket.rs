//! The ticket example, for the benchmark tool's own tests (see
//! `tests/one_node.rs`); measure the example's own binary otherwise.

fn main() {
    ticket::serve()
}
