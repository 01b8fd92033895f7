use uhaha::prelude::*;

#[uhaha::machine]
#[derive(Default)]
struct Store {
    n: i64,
}

#[uhaha::machine]
impl Store {
    #[write]
    fn incr(&mut self, conn: &Conn) -> i64 {
        self.n += conn.id() as i64;
        self.n
    }

    #[intermediate]
    fn whoami(name: String, conn: &Conn) -> String {
        format!("{name} {}", conn.id())
    }

    #[intermediate]
    fn changes(conn: &mut Conn) -> u64 {
        conn.id()
    }

    #[intermediate]
    fn now(ctx: &Ctx) -> u64 {
        let _ = ctx;
        0
    }
}

fn main() {}
