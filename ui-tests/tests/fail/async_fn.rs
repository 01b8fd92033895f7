#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[write]
    async fn incr(&mut self) -> i64 {
        self.n += 1;
        self.n
    }
}

fn main() {}
