//! The ticket example, built in this package so that the black-box tests
//! can find it through `CARGO_BIN_EXE_ticket-node`.

fn main() {
    ticket::serve()
}
