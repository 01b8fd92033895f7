use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Kv {
    expired: u64,
}

#[uhaha::machine]
impl Kv {
    #[tick]
    fn expire(&mut self, ctx: &mut Ctx) -> u64 {
        let _ = ctx.now();
        self.expired += 1;
        self.expired
    }
}

fn main() {
    Kv::serve();
}
