use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Kv {
    expired: u64,
    compacted: u64,
}

#[uhaha::machine]
impl Kv {
    #[tick]
    fn expire(&mut self, ctx: &mut Ctx) {
        let _ = ctx.now();
        self.expired += 1;
    }

    #[tick]
    fn compact(&mut self) {
        self.compacted += 1;
    }
}

fn main() {
    Kv::serve();
}
