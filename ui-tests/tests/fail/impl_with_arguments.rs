#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine(name = "store")]
impl Store {
    #[read]
    fn get(&self) -> i64 {
        self.n
    }
}

fn main() {
    Store::serve();
}
