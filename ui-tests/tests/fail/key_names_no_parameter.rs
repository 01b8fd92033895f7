#[uhaha::machine]
#[derive(Default)]
struct Store {
    values: std::collections::BTreeMap<String, String>,
}

#[uhaha::machine]
impl Store {
    /// Returns a value.
    #[read(key = "name")]
    fn get(&self, key: String) -> Option<String> {
        self.values.get(&key).cloned()
    }
}

fn main() {
    Store::serve();
}
