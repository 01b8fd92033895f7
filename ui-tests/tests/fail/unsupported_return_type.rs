use std::collections::HashMap;

#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[read]
    fn all(&self) -> HashMap<String, i64> {
        HashMap::new()
    }
}

fn main() {}
