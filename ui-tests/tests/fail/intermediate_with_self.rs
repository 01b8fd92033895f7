use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[intermediate]
    fn peek(&self) -> i64 {
        self.n
    }

    #[intermediate]
    async fn bump(&mut self) -> Intermediate {
        Intermediate::command(["INCR"])
    }
}

fn main() {}
