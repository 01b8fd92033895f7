#[uhaha::machine]
#[derive(Default)]
struct Store {
    values: std::collections::BTreeMap<String, String>,
}

#[uhaha::machine]
impl Store {
    /// Returns a value, or the first one.
    #[read(key = "key")]
    fn get(&self, key: Option<String>) -> Option<String> {
        key.and_then(|k| self.values.get(&k).cloned())
    }
}

fn main() {
    Store::serve();
}
