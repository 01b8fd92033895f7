//! Replies: the [`Reply`] value every command produces, how Rust types become
//! one ([`IntoReply`]), and how a reply is written as RESP2 or RESP3.
//!
//! The encoder writes straight into the connection's output buffer rather
//! than building a `redis_protocol` frame first: one reply per command is the
//! hot path, and an intermediate owned frame would cost an allocation each.

use super::{ErrorCode, IntoErrorReply};
use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The protocol version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, what every client starts with.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// A reply to a client, independent of the protocol version.
///
/// Commands may return it directly for full control over the reply.
///
/// ```
/// use uhaha::Reply;
///
/// let reply = Reply::Array(vec![Reply::Integer(1), Reply::bulk("two"), Reply::Null]);
/// assert_eq!(reply.to_resp2(), b"*3\r\n:1\r\n$3\r\ntwo\r\n$-1\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Reply {
    /// `+OK`-style status line.
    Status(String),
    /// An error line; the text carries its code (`ERR ...`, `MOVED ...`).
    Error(String),
    /// A 64-bit integer.
    Integer(i64),
    /// A binary-safe string.
    Bulk(Bytes),
    /// Absence of a value: `$-1` in RESP2, `_` in RESP3.
    Null,
    /// An ordered list.
    Array(Vec<Reply>),
    /// Key-value pairs: a flat array in RESP2, a map in RESP3.
    Map(Vec<(Reply, Reply)>),
    /// An unordered collection: an array in RESP2, a set in RESP3.
    Set(Vec<Reply>),
    /// A floating point number: a bulk string in RESP2, a double in RESP3.
    Double(f64),
    /// A boolean: the integer 1 or 0 in RESP2, `#t`/`#f` in RESP3.
    Boolean(bool),
    /// Plain text meant for people (`INFO`, `CLIENT LIST`): a bulk string in
    /// RESP2, a verbatim string of format `txt` in RESP3, as Redis 7 sends
    /// it, so that RESP3 clients can show it as text.
    Verbatim(String),
    /// A message the client did not ask for (a published message for a
    /// subscriber): an array in RESP2, a push in RESP3, so that a RESP3
    /// client can tell it from a command's reply.
    Push(Vec<Reply>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Status("OK".into())
    }

    /// A bulk string.
    pub fn bulk(value: impl Into<Bytes>) -> Reply {
        Reply::Bulk(value.into())
    }

    /// An error reply. Redis replies start with an upper-case code (`ERR`,
    /// `WRONGTYPE`, `MOVED`); a message without one gets `ERR `.
    ///
    /// The codes of [`crate::ErrorCode`] are the framework's: a command's
    /// error that starts with one gets `ERR ` too, or a client would take
    /// it for the framework's and, say, resend the command.
    pub fn error(message: impl fmt::Display) -> Reply {
        let message = message.to_string().replace(['\r', '\n'], " ");
        let has_code = message
            .split(' ')
            .next()
            .is_some_and(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase()))
            && message.contains(' ')
            && ErrorCode::of(&message).is_none();
        if has_code {
            Reply::Error(message)
        } else {
            Reply::Error(format!("ERR {message}"))
        }
    }

    /// Whether this is an error reply.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Whether this is a command's [`crate::CommandError::NotLeader`],
    /// which the node turns into a redirect.
    pub(crate) fn is_not_leader(&self) -> bool {
        matches!(self, Reply::Error(e) if ErrorCode::of(e) == Some(ErrorCode::NotLeader))
    }

    /// Appends the reply to `out` in the given protocol.
    pub fn encode(&self, protocol: Protocol, out: &mut BytesMut) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::Integer(n) => integer(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Null if resp3 => out.put_slice(b"_\r\n"),
            Reply::Null => out.put_slice(b"$-1\r\n"),
            Reply::Array(items) => aggregate(out, b'*', items, protocol),
            Reply::Set(items) => aggregate(out, if resp3 { b'~' } else { b'*' }, items, protocol),
            Reply::Push(items) => aggregate(out, if resp3 { b'>' } else { b'*' }, items, protocol),
            Reply::Map(pairs) => {
                if resp3 {
                    integer(out, b'%', pairs.len() as i64);
                } else {
                    integer(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(protocol, out);
                    v.encode(protocol, out);
                }
            }
            Reply::Double(d) if resp3 => line(out, b',', format_double(*d).as_bytes()),
            Reply::Double(d) => bulk(out, format_double(*d).as_bytes()),
            Reply::Boolean(b) if resp3 => out.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Reply::Boolean(b) => integer(out, b':', *b as i64),
            Reply::Verbatim(text) if resp3 => {
                integer(out, b'=', text.len() as i64 + 4);
                out.put_slice(b"txt:");
                out.put_slice(text.as_bytes());
                out.put_slice(b"\r\n");
            }
            Reply::Verbatim(text) => bulk(out, text.as_bytes()),
        }
    }

    /// The RESP2 bytes of this reply.
    pub fn to_resp2(&self) -> Vec<u8> {
        let mut out = BytesMut::new();
        self.encode(Protocol::Resp2, &mut out);
        out.to_vec()
    }
}

/// An array, set or push: its length after `tag`, then its items.
fn aggregate(out: &mut BytesMut, tag: u8, items: &[Reply], protocol: Protocol) {
    integer(out, tag, items.len() as i64);
    items.iter().for_each(|i| i.encode(protocol, out));
}

fn line(out: &mut BytesMut, tag: u8, text: &[u8]) {
    out.reserve(text.len() + 3);
    out.put_u8(tag);
    // A status or error line must not break the framing.
    out.extend(
        text.iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.put_slice(b"\r\n");
}

fn integer(out: &mut BytesMut, tag: u8, n: i64) {
    out.put_u8(tag);
    out.put_slice(itoa::Buffer::new().format(n).as_bytes());
    out.put_slice(b"\r\n");
}

fn bulk(out: &mut BytesMut, data: &[u8]) {
    integer(out, b'$', data.len() as i64);
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Redis's spelling of doubles: `inf`, `-inf`, `nan`, else the shortest
/// decimal that reads back the same.
fn format_double(d: f64) -> String {
    if d.is_nan() {
        "nan".into()
    } else if d.is_infinite() {
        if d > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{d}")
    }
}

/// A value a command can return: how a Rust type becomes a [`Reply`].
///
/// | Rust type | RESP2 | RESP3 |
/// |---|---|---|
/// | integers | integer | integer |
/// | `f32`, `f64` | bulk string | double |
/// | `bool` | integer 1 / 0 | boolean |
/// | `String`, `&str`, `Vec<u8>`, `Bytes` | bulk string | bulk string |
/// | `()` | `+OK` | `+OK` |
/// | `Option<T>` | null bulk or `T` | null or `T` |
/// | `Vec<T>`, `[T; N]` | array | array |
/// | `BTreeSet<T>` | array | set |
/// | `BTreeMap<K, V>` | flat array | map |
/// | `Result<T, E: Display>` | `T`, or the error `ERR <e>` (or `<CODE> ...` when the text starts with a code of its own) | same |
/// | `Result<T, CommandError>` | `T`, or the error [`CommandError`](crate::CommandError) says | same |
/// | [`Reply`] | as it is | as it is |
///
/// ```
/// use uhaha::{IntoReply, Reply};
///
/// assert_eq!(7i64.into_reply(), Reply::Integer(7));
/// assert_eq!(Some("hi").into_reply(), Reply::bulk("hi"));
/// assert_eq!(Err::<i64, _>("no such key").into_reply(), Reply::Error("ERR no such key".into()));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a command's reply",
    label = "this type does not implement `uhaha::IntoReply`",
    note = "commands may return integers, floats, bool, String, &str, Vec<u8>, Bytes, (), Option<T>, Vec<T>, BTreeMap<K, V>, BTreeSet<T>, Result<T, E: Display or uhaha::CommandError> or uhaha::Reply"
)]
pub trait IntoReply {
    /// Converts the value into a reply.
    fn into_reply(self) -> Reply;
}

impl IntoReply for Reply {
    fn into_reply(self) -> Reply {
        self
    }
}

macro_rules! integer_into_reply {
    ($($t:ty),*) => {$(
        impl IntoReply for $t {
            fn into_reply(self) -> Reply {
                Reply::Integer(self as i64)
            }
        }
    )*};
}
integer_into_reply!(i8, i16, i32, i64, isize, u8, u16, u32);

macro_rules! wide_integer_into_reply {
    ($($t:ty),*) => {$(
        impl IntoReply for $t {
            /// An integer when it fits in 64 signed bits, else its decimal
            /// text as a bulk string: RESP integers are signed 64-bit.
            fn into_reply(self) -> Reply {
                match i64::try_from(self) {
                    Ok(n) => Reply::Integer(n),
                    Err(_) => Reply::bulk(self.to_string()),
                }
            }
        }
    )*};
}
wide_integer_into_reply!(u64, usize, i128, u128);

impl IntoReply for f64 {
    fn into_reply(self) -> Reply {
        Reply::Double(self)
    }
}

impl IntoReply for f32 {
    fn into_reply(self) -> Reply {
        Reply::Double(self as f64)
    }
}

impl IntoReply for bool {
    fn into_reply(self) -> Reply {
        Reply::Boolean(self)
    }
}

impl IntoReply for () {
    fn into_reply(self) -> Reply {
        Reply::ok()
    }
}

impl IntoReply for String {
    fn into_reply(self) -> Reply {
        Reply::Bulk(self.into())
    }
}

impl IntoReply for &str {
    fn into_reply(self) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(self.as_bytes()))
    }
}

impl IntoReply for &[u8] {
    fn into_reply(self) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(self))
    }
}

impl IntoReply for Bytes {
    fn into_reply(self) -> Reply {
        Reply::Bulk(self)
    }
}

/// `Vec<u8>` is binary data, so it is a bulk string, not an array of
/// integers; any other `Vec<T>` is an array.
impl IntoReply for Vec<u8> {
    fn into_reply(self) -> Reply {
        Reply::Bulk(self.into())
    }
}

impl<T: IntoReply> IntoReply for Option<T> {
    fn into_reply(self) -> Reply {
        self.map_or(Reply::Null, IntoReply::into_reply)
    }
}

/// Marks the element types of a `Vec<T>` reply; `u8` is left out so that
/// `Vec<u8>` stays a bulk string.
pub trait ArrayElement: IntoReply {}

macro_rules! array_element {
    ($($t:ty),*) => {$( impl ArrayElement for $t {} )*};
}
array_element!(
    i8,
    i16,
    i32,
    i64,
    isize,
    u16,
    u32,
    u64,
    usize,
    i128,
    u128,
    f32,
    f64,
    bool,
    (),
    String,
    Bytes,
    Reply
);
impl ArrayElement for &str {}
impl ArrayElement for Vec<u8> {}
impl<T: IntoReply> ArrayElement for Option<T> {}
impl<T: ArrayElement> ArrayElement for Vec<T> {}
impl<K: IntoReply, V: IntoReply> ArrayElement for BTreeMap<K, V> {}
impl<T: IntoReply> ArrayElement for BTreeSet<T> {}

impl<T: ArrayElement> IntoReply for Vec<T> {
    fn into_reply(self) -> Reply {
        Reply::Array(self.into_iter().map(IntoReply::into_reply).collect())
    }
}

impl<T: ArrayElement, const N: usize> IntoReply for [T; N] {
    fn into_reply(self) -> Reply {
        Reply::Array(self.into_iter().map(IntoReply::into_reply).collect())
    }
}

impl<T: IntoReply> IntoReply for BTreeSet<T> {
    fn into_reply(self) -> Reply {
        Reply::Set(self.into_iter().map(IntoReply::into_reply).collect())
    }
}

/// Maps keep the key order of the `BTreeMap`, so replies are the same on
/// every node and every run.
impl<K: IntoReply, V: IntoReply> IntoReply for BTreeMap<K, V> {
    fn into_reply(self) -> Reply {
        Reply::Map(
            self.into_iter()
                .map(|(k, v)| (k.into_reply(), v.into_reply()))
                .collect(),
        )
    }
}

impl<T: IntoReply, E: IntoErrorReply> IntoReply for Result<T, E> {
    fn into_reply(self) -> Reply {
        match self {
            Ok(v) => v.into_reply(),
            Err(e) => e.into_error_reply(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(value: impl IntoReply + Clone) -> (String, String) {
        let reply = value.into_reply();
        let mut two = BytesMut::new();
        let mut three = BytesMut::new();
        reply.encode(Protocol::Resp2, &mut two);
        reply.encode(Protocol::Resp3, &mut three);
        (
            String::from_utf8_lossy(&two).into_owned(),
            String::from_utf8_lossy(&three).into_owned(),
        )
    }

    #[test]
    fn scalars() {
        assert_eq!(both(42i64), (":42\r\n".into(), ":42\r\n".into()));
        assert_eq!(both(-1i8), (":-1\r\n".into(), ":-1\r\n".into()));
        assert_eq!(both(u64::MAX).0, "$20\r\n18446744073709551615\r\n");
        assert_eq!(both(7u64).0, ":7\r\n");
        assert_eq!(both(1.5f64), ("$3\r\n1.5\r\n".into(), ",1.5\r\n".into()));
        assert_eq!(both(f64::INFINITY).1, ",inf\r\n");
        assert_eq!(both(true), (":1\r\n".into(), "#t\r\n".into()));
        assert_eq!(both(false), (":0\r\n".into(), "#f\r\n".into()));
        assert_eq!(both(()), ("+OK\r\n".into(), "+OK\r\n".into()));
    }

    #[test]
    fn verbatim_text_is_bulk_in_resp2_and_txt_in_resp3() {
        let text = Reply::Verbatim("a:1\r\n".into());
        assert_eq!(
            both(text),
            ("$5\r\na:1\r\n\r\n".into(), "=9\r\ntxt:a:1\r\n\r\n".into())
        );
        assert_eq!(both(Reply::Verbatim(String::new())).1, "=4\r\ntxt:\r\n");
    }

    #[test]
    fn a_push_is_an_array_in_resp2() {
        let push = Reply::Push(vec![Reply::bulk("message"), Reply::Integer(1)]);
        assert_eq!(
            both(push),
            (
                "*2\r\n$7\r\nmessage\r\n:1\r\n".into(),
                ">2\r\n$7\r\nmessage\r\n:1\r\n".into()
            )
        );
    }

    #[test]
    fn strings_and_bytes() {
        assert_eq!(both("héllo").0, "$6\r\nhéllo\r\n");
        assert_eq!(both(String::new()).0, "$0\r\n\r\n");
        assert_eq!(both(vec![0u8, 1]).0, "$2\r\n\u{0}\u{1}\r\n");
        assert_eq!(both(Bytes::from_static(b"ab")).0, "$2\r\nab\r\n");
    }

    #[test]
    fn options_collections_and_maps() {
        assert_eq!(both(None::<i64>), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(Some(3i64)).0, ":3\r\n");
        assert_eq!(both(vec![1i64, 2]).0, "*2\r\n:1\r\n:2\r\n");
        assert_eq!(both(Vec::<String>::new()).0, "*0\r\n");
        assert_eq!(both(vec![vec!["a"]]).0, "*1\r\n*1\r\n$1\r\na\r\n");
        let map: BTreeMap<&str, i64> = [("b", 2), ("a", 1)].into();
        assert_eq!(
            both(map),
            (
                "*4\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n".into(),
                "%2\r\n$1\r\na\r\n:1\r\n$1\r\nb\r\n:2\r\n".into()
            )
        );
        let set: BTreeSet<i64> = [2, 1].into();
        assert_eq!(
            both(set),
            ("*2\r\n:1\r\n:2\r\n".into(), "~2\r\n:1\r\n:2\r\n".into())
        );
        assert_eq!(both([1u16, 2]).0, "*2\r\n:1\r\n:2\r\n");
    }

    #[test]
    fn errors_get_a_code() {
        assert_eq!(both(Err::<(), _>("boom")).0, "-ERR boom\r\n");
        assert_eq!(
            both(Err::<(), _>("WRONGTYPE bad type")).0,
            "-WRONGTYPE bad type\r\n"
        );
        assert_eq!(both(Err::<(), _>("OOPS")).0, "-ERR OOPS\r\n");
        // A command cannot send clients elsewhere.
        assert_eq!(
            both(Err::<(), _>("TRY again later")).0,
            "-ERR TRY again later\r\n"
        );
        assert_eq!(
            both(Err::<(), _>("MOVED 0 1.2.3.4:5")).0,
            "-ERR MOVED 0 1.2.3.4:5\r\n"
        );
        assert_eq!(both(Ok::<i64, String>(1)).0, ":1\r\n");
        assert_eq!(both(Reply::error("two\r\nlines")).0, "-ERR two  lines\r\n");
        assert_eq!(both(Reply::Status("a\nb".into())).0, "+a b\r\n");
    }
}
