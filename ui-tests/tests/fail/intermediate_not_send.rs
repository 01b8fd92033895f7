use std::rc::Rc;

#[uhaha::machine]
#[derive(Default)]
struct Store;

async fn pause() {}

#[uhaha::machine]
impl Store {
    #[intermediate]
    async fn fetch(url: String) -> String {
        let shared = Rc::new(url);
        pause().await;
        shared.to_string()
    }
}

fn main() {}
