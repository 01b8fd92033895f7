#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[write]
    fn incr(&self) -> i64 {
        self.n
    }

    #[read]
    fn get<T>(&self) -> i64 {
        self.n
    }

    #[write(name = "two words")]
    fn set(&mut self, n: i64) {
        self.n = n;
    }
}

fn main() {
    Store::serve();
}
