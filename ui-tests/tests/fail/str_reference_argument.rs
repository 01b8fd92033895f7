#[uhaha::machine]
#[derive(Default)]
struct Store {
    keys: Vec<String>,
}

#[uhaha::machine]
impl Store {
    #[write]
    fn add(&mut self, key: &str) {
        self.keys.push(key.to_owned());
    }
}

fn main() {}
