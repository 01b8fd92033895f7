#[uhaha::machine]
#[derive(Default)]
struct Store<T> {
    items: Vec<T>,
}

fn main() {}
