#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[write]
    fn add<T: Into<i64>>(&mut self, by: T) -> i64 {
        self.n += by.into();
        self.n
    }
}

fn main() {}
