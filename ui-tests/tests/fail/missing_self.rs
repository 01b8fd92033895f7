#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[read]
    fn zero() -> i64 {
        0
    }
}

fn main() {}
