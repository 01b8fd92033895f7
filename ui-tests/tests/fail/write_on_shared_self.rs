#[uhaha::machine]
#[derive(Default)]
struct Ticket {
    ticket: i64,
}

#[uhaha::machine]
impl Ticket {
    #[write]
    fn ticket(&self) -> i64 {
        self.ticket
    }
}

fn main() {}
