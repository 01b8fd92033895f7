use std::collections::HashMap;

#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

struct Point {
    x: i64,
}

#[uhaha::machine]
impl Store {
    #[write]
    fn add(&mut self, point: Point) -> i64 {
        self.n += point.x;
        self.n
    }

    #[write]
    fn merge(&mut self, fields: Option<HashMap<String, String>>) {
        let _ = fields;
    }
}

fn main() {}
