use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Kv {
    expired: u64,
}

#[uhaha::machine]
impl Kv {
    #[tick]
    fn expire(&self, ctx: &Ctx) {
        let _ = (self.expired, ctx.now());
    }
}

fn main() {
    Kv::serve();
}
