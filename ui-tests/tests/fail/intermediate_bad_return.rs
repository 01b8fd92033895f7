
#[uhaha::machine]
#[derive(Default)]
struct Store;

struct Opaque;

#[uhaha::machine]
impl Store {
    #[intermediate]
    async fn fetch(url: String) -> Opaque {
        let _ = url;
        Opaque
    }
}

fn main() {}
