#[uhaha::machine]
#[derive(Default)]
struct Store {
    keys: Vec<String>,
}

#[uhaha::machine]
impl Store {
    #[write]
    fn push(&mut self, keys: Vec<String>, count: i64) -> i64 {
        self.keys.extend(keys);
        count
    }
}

fn main() {}
