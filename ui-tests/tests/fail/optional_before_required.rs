#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[write]
    fn set(&mut self, seconds: Option<f64>, n: i64) {
        let _ = seconds;
        self.n = n;
    }
}

fn main() {}
