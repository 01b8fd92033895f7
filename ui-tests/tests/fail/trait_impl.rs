#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

trait Get {
    fn get(&self) -> i64;
}

#[uhaha::machine]
impl Get for Store {
    #[read]
    fn get(&self) -> i64 {
        self.n
    }
}

fn main() {}
