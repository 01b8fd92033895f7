use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Store;

#[uhaha::machine]
impl Store {
    #[catch_all]
    fn unknown(cmd: Vec<Bytes>) -> Reply {
        Reply::error(format_args!("unknown command '{}'", String::from_utf8_lossy(&cmd[0])))
    }

    #[catch_all]
    fn fallback(cmd: Vec<String>) -> String {
        cmd.join(" ")
    }
}

fn main() {}
