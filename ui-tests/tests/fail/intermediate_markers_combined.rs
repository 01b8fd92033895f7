use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Store;

#[uhaha::machine]
impl Store {
    #[intermediate]
    #[write]
    fn now() -> u64 {
        0
    }

    #[catch_all]
    #[intermediate]
    fn unknown(cmd: Vec<Bytes>) -> usize {
        cmd.len()
    }

    #[catch_all(name = "fallback")]
    fn fallback(cmd: Vec<Bytes>) -> usize {
        cmd.len()
    }

    #[tick]
    #[catch_all]
    fn expire(&mut self) {}
}

fn main() {}
