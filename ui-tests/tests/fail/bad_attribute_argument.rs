#[uhaha::machine(name = "store", port = 7481)]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[read]
    fn get(&self) -> i64 {
        self.n
    }
}

fn main() {
    Store::serve();
}
