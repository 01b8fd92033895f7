#[uhaha::machine]
#[derive(Default)]
struct Ticket {
    ticket: i64,
}

#[uhaha::machine]
impl Ticket {
    #[read]
    fn last(&mut self) -> i64 {
        self.ticket
    }
}

fn main() {}
