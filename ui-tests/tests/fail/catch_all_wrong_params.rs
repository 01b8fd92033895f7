use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct NoCommand;

#[uhaha::machine]
impl NoCommand {
    #[catch_all]
    fn unknown() -> Reply {
        Reply::error("unknown command")
    }
}

#[uhaha::machine]
#[derive(Default)]
struct NameAndArgs;

#[uhaha::machine]
impl NameAndArgs {
    #[catch_all]
    fn unknown(name: String, args: Vec<Bytes>, conn: &Conn) -> String {
        format!("{name} {} {}", args.len(), conn.id())
    }
}

#[uhaha::machine]
#[derive(Default)]
struct NotVariadic;

#[uhaha::machine]
impl NotVariadic {
    #[catch_all]
    fn unknown(ctx: &Ctx, name: Bytes) -> Bytes {
        let _ = ctx;
        name
    }
}

fn main() {}
