use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[read]
    fn roll(&self, ctx: &mut Ctx) -> u64 {
        ctx.rand().next_u64()
    }
}

fn main() {}
