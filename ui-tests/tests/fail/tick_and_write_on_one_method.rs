use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Kv {
    expired: u64,
}

#[uhaha::machine]
impl Kv {
    #[write]
    #[tick]
    fn expire(&mut self, ctx: &mut Ctx) {
        let _ = ctx.now();
        self.expired += 1;
    }
}

fn main() {
    Kv::serve();
}
