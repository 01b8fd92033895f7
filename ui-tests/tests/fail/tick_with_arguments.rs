use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Kv {
    expired: u64,
}

#[uhaha::machine]
impl Kv {
    #[tick]
    fn expire(&mut self, ctx: &mut Ctx, limit: usize) {
        let _ = ctx.now();
        self.expired += limit as u64;
    }
}

fn main() {
    Kv::serve();
}
