use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[write]
    fn connect(&mut self) -> i64 {
        self.n += 1;
        self.n
    }

    #[intermediate(name = "invoke")]
    fn call(name: String) -> Intermediate {
        Intermediate::command([name])
    }
}

fn main() {}
