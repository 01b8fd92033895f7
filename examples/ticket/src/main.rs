//! A service for monotonically increasing tickets, replicated by Raft.
//!
//! ```text
//! cargo run --release -p ticket -- -n 1 -a 127.0.0.1:11001
//! redis-cli -p 11001 TICKET
//! ```

/// A service for monotonically increasing tickets.
#[uhaha::machine(name = "ticket", version = "0.1.0")]
#[derive(Default)]
struct Ticket {
    ticket: i64,
}

#[uhaha::machine]
impl Ticket {
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
}

fn main() {
    Ticket::serve();
}
