#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[write]
    #[read]
    fn get(&mut self) -> i64 {
        self.n
    }
}

fn main() {}
