use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Kv {
    expired: u64,
}

#[uhaha::machine]
impl Kv {
    #[tick(every = "1s")]
    fn expire(&mut self, ctx: &mut Ctx) {
        let _ = ctx.now();
        self.expired += 1;
    }
}

fn main() {
    Kv::serve();
}
