#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[read]
    fn ping(&self) -> &'static str {
        "PONG"
    }
}

fn main() {}
