//! The generated command table and argument checks, asserted at run time.

use bytes::Bytes;
use uhaha::__private::{Args, Arity, Commands, Kind};
use uhaha::prelude::*;

#[uhaha::machine(name = "kv", version = "2.1.0")]
#[derive(Default)]
struct Kv {
    n: i64,
}

#[uhaha::machine]
impl Kv {
    /// Returns a new ticket.
    #[write]
    fn ticket(&mut self) -> i64 {
        self.n += 1;
        self.n
    }

    /// Sets a key.
    ///
    ///   Indented detail.
    #[write(name = "setx")]
    fn set(&mut self, ctx: &mut Ctx, key: String, _value: Vec<u8>, seconds: Option<f64>) {
        let _ = (ctx, key, seconds);
    }

    #[read]
    fn del(&self, count: u32, keys: Vec<String>) -> usize {
        keys.len() + count as usize
    }

    fn not_a_command(&self) {}
}

fn args(values: &[&str]) -> Vec<Bytes> {
    values.iter().map(|v| Bytes::copy_from_slice(v.as_bytes())).collect()
}

fn main() {
    use uhaha::__private::Machine;
    assert_eq!(<Kv as Machine>::NAME, "kv");
    assert_eq!(<Kv as Machine>::VERSION, "2.1.0");

    let table = <Kv as Commands>::COMMANDS;
    let names: Vec<&str> = table.iter().map(|c| c.name).collect();
    assert_eq!(names, ["TICKET", "SETX", "DEL"]);
    let kinds: Vec<Kind> = table.iter().map(|c| c.kind).collect();
    assert_eq!(kinds, [Kind::Write, Kind::Write, Kind::Read]);

    assert!(table[0].params.is_empty());
    let set: Vec<(&str, Arity)> = table[1].params.iter().map(|p| (p.name, p.arity)).collect();
    assert_eq!(
        set,
        [("key", Arity::Required), ("value", Arity::Required), ("seconds", Arity::Optional)]
    );
    let del: Vec<(&str, Arity)> = table[2].params.iter().map(|p| (p.name, p.arity)).collect();
    assert_eq!(del, [("count", Arity::Required), ("keys", Arity::Variadic)]);

    assert_eq!(table[0].doc, "Returns a new ticket.");
    assert_eq!(table[1].doc, "Sets a key.\n\n  Indented detail.");
    assert_eq!(table[2].doc, "");
    assert_eq!(table[1].usage(), "SETX key value [seconds]");
    assert_eq!(table[2].usage(), "DEL count [keys ...]");

    let check = |index: usize, values: &[&str]| {
        let values = args(values);
        <Kv as Commands>::check(index, Args::new(&values)).map_err(|e| e.to_string())
    };
    assert_eq!(check(0, &[]), Ok(()));
    assert_eq!(check(1, &["k", "v"]), Ok(()));
    assert_eq!(check(1, &["k", "\u{ff}", "1.5"]), Ok(()));
    assert_eq!(
        check(1, &["k", "v", "soon"]),
        Err("ERR value is not a valid float".to_owned())
    );
    assert_eq!(check(2, &["3", "a", "b"]), Ok(()));
    assert_eq!(
        check(2, &["x"]),
        Err("ERR value is not an integer or out of range".to_owned())
    );
    assert_eq!(check(3, &[]), Err("ERR unknown command".to_owned()));

    Kv::default().not_a_command();
}
