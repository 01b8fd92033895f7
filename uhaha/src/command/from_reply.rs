//! [`FromReply`]: the inverse of [`IntoReply`](super::IntoReply), reading a
//! command's reply back into the Rust type its method returns. The typed
//! clients that `#[uhaha::machine]` generates return every command's reply
//! through it.
//!
//! Replies arrive as the node sends them in RESP3 (maps, sets, doubles,
//! booleans), but every impl also takes the RESP2 shape of the same value
//! (a flat array for a map, a bulk string for a double, an integer for a
//! boolean), so that it reads what any node or proxy sends.

use super::reply::{ArrayElement, Reply};
use super::Intermediate;
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Why a reply could not be read as a command's return type.
///
/// ```
/// use uhaha::{FromReply, FromReplyError, Reply};
///
/// assert_eq!(
///     i64::from_reply(Reply::error("no such key")),
///     Err(FromReplyError::Error("ERR no such key".into()))
/// );
/// let wrong = FromReplyError::unexpected("an integer", &Reply::Null);
/// assert_eq!(wrong.to_string(), "expected an integer, got Null");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FromReplyError {
    /// The node answered with an error reply (`ERR ...`); its text.
    Error(String),
    /// The reply does not have the shape the type reads; what was
    /// expected and what came.
    Unexpected(String),
}

impl FromReplyError {
    /// A reply of the wrong shape: `expected` says what the type reads.
    pub fn unexpected(expected: &str, got: &Reply) -> FromReplyError {
        FromReplyError::Unexpected(format!("expected {expected}, got {got:?}"))
    }
}

impl fmt::Display for FromReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromReplyError::Error(e) | FromReplyError::Unexpected(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for FromReplyError {}

/// A command's return type, as the typed client reads it back.
///
/// `Output` is the type the client returns: the type itself for owned
/// values, an owned counterpart for borrowed ones (`&str` becomes
/// `String`), and the value inside for `Result<T, E>`, whose error arrives
/// as an error reply. An error reply is an `Err` for every type but
/// [`Reply`], which returns it as it is.
///
/// Implemented for every type that implements
/// [`IntoReply`](super::IntoReply). A command that returns a type of your
/// own needs both: `IntoReply` for the node, `FromReply` for the client
/// (only where the client calls that command: the machine builds without
/// it).
///
/// Every machine gets a typed client, `<Struct>Client`, whose methods
/// return what this trait reads:
///
/// ```no_run
/// use uhaha::prelude::*;
///
/// /// Tickets.
/// #[uhaha::machine(name = "ticket", version = "0.1.0")]
/// #[derive(Default)]
/// pub struct Ticket {
///     last: i64,
/// }
///
/// #[uhaha::machine]
/// impl Ticket {
///     /// A new ticket.
///     #[write]
///     fn ticket(&mut self) -> i64 {
///         self.last += 1;
///         self.last
///     }
///
///     /// Tickets handed out after `after`, at most `limit` of them.
///     #[read]
///     fn since(&self, after: i64, limit: Option<usize>) -> Vec<i64> {
///         let to = self.last.min(after + limit.unwrap_or(10) as i64);
///         (after + 1..=to).collect()
///     }
/// }
///
/// # async fn demo() -> Result<(), uhaha::ClientError> {
/// let mut client = TicketClient::connect("127.0.0.1:11001").await?;
/// let ticket: i64 = client.ticket().await?;
/// let recent: Vec<i64> = client.since(ticket - 5, None).await?;
/// let few: Vec<i64> = client.since(0, 3).await?;
/// # let _ = (recent, few);
/// # Ok(()) }
/// # fn main() {}
/// ```
///
/// ```
/// use uhaha::{FromReply, FromReplyError, IntoReply, Reply};
///
/// #[derive(Debug, PartialEq)]
/// struct Point(i64, i64);
///
/// impl IntoReply for Point {
///     fn into_reply(self) -> Reply {
///         vec![self.0, self.1].into_reply()
///     }
/// }
///
/// impl FromReply for Point {
///     type Output = Point;
///
///     fn from_reply(reply: Reply) -> Result<Point, FromReplyError> {
///         match <[i64; 2]>::from_reply(reply)? {
///             [x, y] => Ok(Point(x, y)),
///         }
///     }
/// }
///
/// assert_eq!(Point::from_reply(Point(1, 2).into_reply()), Ok(Point(1, 2)));
/// assert_eq!(<&str>::from_reply(Reply::bulk("hi")), Ok("hi".to_string()));
/// assert!(i64::from_reply(Reply::error("no such key")).is_err());
/// ```
#[diagnostic::on_unimplemented(
    message = "the typed client cannot read `{Self}` back from a reply",
    label = "this type does not implement `uhaha::FromReply`",
    note = "the generated client reads every command's reply through `uhaha::FromReply`, the inverse of `uhaha::IntoReply`: implement it for your own reply types, or return `uhaha::Reply`"
)]
pub trait FromReply {
    /// What the client returns for a reply of this type.
    type Output;

    /// Reads the reply.
    fn from_reply(reply: Reply) -> Result<Self::Output, FromReplyError>;
}

/// The reply, or its error as an `Err`.
fn value(reply: Reply) -> Result<Reply, FromReplyError> {
    match reply {
        Reply::Error(e) => Err(FromReplyError::Error(e)),
        reply => Ok(reply),
    }
}

/// The text of a bulk, status or verbatim string.
fn text(reply: &Reply) -> Option<&[u8]> {
    match reply {
        Reply::Bulk(b) => Some(b),
        Reply::Status(s) | Reply::Verbatim(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// The items of an array, a set or a push.
fn items(reply: Reply) -> Result<Vec<Reply>, FromReplyError> {
    match value(reply)? {
        Reply::Array(items) | Reply::Set(items) | Reply::Push(items) => Ok(items),
        other => Err(FromReplyError::unexpected("an array", &other)),
    }
}

fn all<T: FromReply, C: FromIterator<T::Output>>(reply: Reply) -> Result<C, FromReplyError> {
    items(reply)?.into_iter().map(T::from_reply).collect()
}

macro_rules! integer_from_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            type Output = $t;

            /// An integer, or its decimal text (how integers wider than
            /// 64 signed bits are sent).
            fn from_reply(reply: Reply) -> Result<$t, FromReplyError> {
                let reply = value(reply)?;
                let n = match &reply {
                    Reply::Integer(n) => <$t>::try_from(*n).ok(),
                    other => text(other)
                        .and_then(|t| std::str::from_utf8(t).ok())
                        .and_then(|t| t.parse().ok()),
                };
                n.ok_or_else(|| FromReplyError::unexpected(concat!("an integer (", stringify!($t), ")"), &reply))
            }
        }
    )*};
}
integer_from_reply!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

macro_rules! float_from_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            type Output = $t;

            /// A double, or its text (RESP2), or an integer.
            fn from_reply(reply: Reply) -> Result<$t, FromReplyError> {
                let reply = value(reply)?;
                let n = match &reply {
                    Reply::Double(d) => Some(*d as $t),
                    Reply::Integer(n) => Some(*n as $t),
                    other => text(other).and_then(|t| <$t as super::FromArg>::from_arg(t).ok()),
                };
                n.ok_or_else(|| FromReplyError::unexpected("a double", &reply))
            }
        }
    )*};
}
float_from_reply!(f32, f64);

impl FromReply for bool {
    type Output = bool;

    /// A boolean, or the integer 1 or 0 (RESP2).
    fn from_reply(reply: Reply) -> Result<bool, FromReplyError> {
        match value(reply)? {
            Reply::Boolean(b) => Ok(b),
            Reply::Integer(n @ (0 | 1)) => Ok(n == 1),
            other => Err(FromReplyError::unexpected("a boolean", &other)),
        }
    }
}

impl FromReply for () {
    type Output = ();

    /// A status (`+OK`).
    fn from_reply(reply: Reply) -> Result<(), FromReplyError> {
        match value(reply)? {
            Reply::Status(_) => Ok(()),
            other => Err(FromReplyError::unexpected("a status", &other)),
        }
    }
}

macro_rules! string_from_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            type Output = String;

            /// A bulk, status or verbatim string in UTF-8.
            fn from_reply(reply: Reply) -> Result<String, FromReplyError> {
                let reply = value(reply)?;
                text(&reply)
                    .and_then(|t| String::from_utf8(t.to_vec()).ok())
                    .ok_or_else(|| FromReplyError::unexpected("a UTF-8 string", &reply))
            }
        }
    )*};
}
string_from_reply!(String, &str);

impl FromReply for Bytes {
    type Output = Bytes;

    /// A bulk, status or verbatim string.
    fn from_reply(reply: Reply) -> Result<Bytes, FromReplyError> {
        match value(reply)? {
            Reply::Bulk(b) => Ok(b),
            other => text(&other)
                .map(Bytes::copy_from_slice)
                .ok_or_else(|| FromReplyError::unexpected("a string", &other)),
        }
    }
}

macro_rules! byte_vec_from_reply {
    ($($t:ty),*) => {$(
        impl FromReply for $t {
            type Output = Vec<u8>;

            /// A bulk, status or verbatim string.
            fn from_reply(reply: Reply) -> Result<Vec<u8>, FromReplyError> {
                Bytes::from_reply(reply).map(Vec::from)
            }
        }
    )*};
}
byte_vec_from_reply!(Vec<u8>, &[u8]);

impl<T: FromReply> FromReply for Option<T> {
    type Output = Option<T::Output>;

    /// Null as `None`.
    fn from_reply(reply: Reply) -> Result<Self::Output, FromReplyError> {
        match reply {
            Reply::Null => Ok(None),
            reply => T::from_reply(reply).map(Some),
        }
    }
}

impl<T: ArrayElement + FromReply> FromReply for Vec<T> {
    type Output = Vec<T::Output>;

    /// An array (or a set).
    fn from_reply(reply: Reply) -> Result<Self::Output, FromReplyError> {
        all::<T, _>(reply)
    }
}

impl<T: ArrayElement + FromReply, const N: usize> FromReply for [T; N] {
    type Output = [T::Output; N];

    /// An array of exactly `N` items.
    fn from_reply(reply: Reply) -> Result<Self::Output, FromReplyError> {
        let items: Vec<T::Output> = all::<T, _>(reply)?;
        let len = items.len();
        items.try_into().map_err(|_| {
            FromReplyError::Unexpected(format!("expected an array of {N} items, got {len}"))
        })
    }
}

impl<T: FromReply> FromReply for BTreeSet<T>
where
    T::Output: Ord,
{
    type Output = BTreeSet<T::Output>;

    /// A set (or an array, RESP2).
    fn from_reply(reply: Reply) -> Result<Self::Output, FromReplyError> {
        all::<T, _>(reply)
    }
}

impl<K: FromReply, V: FromReply> FromReply for BTreeMap<K, V>
where
    K::Output: Ord,
{
    type Output = BTreeMap<K::Output, V::Output>;

    /// A map (or a flat array of keys and values, RESP2).
    fn from_reply(reply: Reply) -> Result<Self::Output, FromReplyError> {
        let pair = |(k, v)| Ok((K::from_reply(k)?, V::from_reply(v)?));
        match value(reply)? {
            Reply::Map(pairs) => pairs.into_iter().map(pair).collect(),
            Reply::Array(items) if items.len() % 2 == 0 => {
                let mut items = items.into_iter();
                std::iter::from_fn(|| Some((items.next()?, items.next()?)))
                    .map(pair)
                    .collect()
            }
            other => Err(FromReplyError::unexpected("a map", &other)),
        }
    }
}

impl<T: FromReply, E> FromReply for Result<T, E> {
    type Output = T::Output;

    /// `T`; the method's error arrives as an error reply, an `Err`.
    fn from_reply(reply: Reply) -> Result<Self::Output, FromReplyError> {
        T::from_reply(reply)
    }
}

impl FromReply for Reply {
    type Output = Reply;

    /// Any reply, an error reply included, as it is.
    fn from_reply(reply: Reply) -> Result<Reply, FromReplyError> {
        Ok(reply)
    }
}

impl FromReply for Intermediate {
    type Output = Reply;

    /// The reply of whatever the intermediate ran or answered; an error
    /// reply is an `Err`.
    fn from_reply(reply: Reply) -> Result<Reply, FromReplyError> {
        value(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::IntoReply;
    use std::fmt::Debug;

    /// The reply as a RESP2 connection carries it.
    fn resp2(reply: Reply) -> Reply {
        match reply {
            Reply::Map(pairs) => Reply::Array(
                pairs
                    .into_iter()
                    .flat_map(|(k, v)| [resp2(k), resp2(v)])
                    .collect(),
            ),
            Reply::Set(items) | Reply::Array(items) | Reply::Push(items) => {
                Reply::Array(items.into_iter().map(resp2).collect())
            }
            Reply::Double(d) => Reply::bulk(d.to_string()),
            Reply::Boolean(b) => Reply::Integer(b as i64),
            Reply::Verbatim(text) => Reply::bulk(text),
            other => other,
        }
    }

    /// What the client reads from what the node sends, in RESP3 and RESP2.
    fn round_trip<T>(value: T, expected: T::Output)
    where
        T: IntoReply + FromReply + Clone,
        T::Output: PartialEq + Debug,
    {
        let reply = value.into_reply();
        let two = resp2(reply.clone());
        assert_eq!(
            T::from_reply(two.clone()),
            T::from_reply(reply.clone()),
            "RESP2 {two:?}"
        );
        assert_eq!(T::from_reply(reply.clone()), Ok(expected), "{reply:?}");
    }

    fn same<T>(value: T)
    where
        T: IntoReply + FromReply<Output = T> + Clone + PartialEq + Debug,
    {
        round_trip(value.clone(), value);
    }

    #[test]
    fn scalars_read_back_what_they_sent() {
        same(i8::MIN);
        same(u8::MAX);
        same(-3i16);
        same(u16::MAX);
        same(i32::MIN);
        same(u32::MAX);
        same(i64::MIN);
        same(isize::MAX);
        same(u64::MAX);
        same(usize::MAX);
        same(i128::MIN);
        same(u128::MAX);
        same(0.25f64);
        same(f64::NEG_INFINITY);
        same(1.5f32);
        same(true);
        same(false);
        same(());
        same("héllo".to_string());
        same(Bytes::from_static(b"\x00\xff"));
        same(vec![0u8, 1, 2]);
        round_trip("text", "text".to_string());
        round_trip(&b"raw"[..], b"raw".to_vec());
        same(Reply::Status("QUEUED".into()));
    }

    #[test]
    fn collections_read_back_in_both_protocols() {
        same(Some(7i64));
        same(None::<String>);
        same(vec![Some(1i64), None]);
        same(vec![vec!["a".to_string()], vec![]]);
        same([1u16, 2, 3]);
        same(BTreeSet::from([3i64, 1, 2]));
        same(BTreeMap::from([
            ("b".to_string(), 2.5f64),
            ("a".to_string(), -1.0),
        ]));
        same(BTreeMap::from([(1i64, vec![true, false])]));
        round_trip(
            BTreeMap::from([("k", Reply::Integer(1))]),
            BTreeMap::from([("k".to_string(), Reply::Integer(1))]),
        );
        round_trip(Ok::<_, String>(vec!["x"]), vec!["x".to_string()]);
    }

    #[test]
    fn error_replies_are_errors_except_for_reply() {
        let failed = Err::<i64, _>("no such key").into_reply();
        assert_eq!(
            <Result<i64, String>>::from_reply(failed.clone()),
            Err(FromReplyError::Error("ERR no such key".into()))
        );
        assert_eq!(
            Option::<String>::from_reply(failed.clone()),
            Err(FromReplyError::Error("ERR no such key".into()))
        );
        assert_eq!(
            Intermediate::from_reply(failed.clone()),
            Err(FromReplyError::Error("ERR no such key".into()))
        );
        assert_eq!(Reply::from_reply(failed.clone()), Ok(failed));
        assert_eq!(Intermediate::from_reply(Reply::ok()), Ok(Reply::ok()));
    }

    fn unexpected<T>(result: Result<T, FromReplyError>) -> bool {
        matches!(result, Err(FromReplyError::Unexpected(_)))
    }

    #[test]
    fn replies_of_another_shape_are_unexpected() {
        assert!(unexpected(i64::from_reply(Reply::bulk("x"))));
        assert!(unexpected(u8::from_reply(Reply::Integer(256))));
        assert!(unexpected(bool::from_reply(Reply::Integer(2))));
        assert!(unexpected(String::from_reply(Reply::bulk(vec![0xffu8]))));
        assert!(unexpected(<()>::from_reply(Reply::Null)));
        assert!(unexpected(<[i64; 2]>::from_reply(vec![1i64].into_reply())));
        assert!(unexpected(Vec::<i64>::from_reply(Reply::Integer(1))));
        assert!(unexpected(BTreeMap::<String, i64>::from_reply(
            Reply::Array(vec![Reply::bulk("odd")])
        )));
        assert_eq!(
            i64::from_reply(Reply::Null).unwrap_err().to_string(),
            "expected an integer (i64), got Null"
        );
    }
}
