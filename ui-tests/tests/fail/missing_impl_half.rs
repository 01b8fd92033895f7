#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

impl Store {
    fn get(&self) -> i64 {
        self.n
    }
}

fn main() {
    let _ = Store::default().get();
    Store::serve();
}
