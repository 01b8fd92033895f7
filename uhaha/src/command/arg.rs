//! Turning a command's RESP bulk strings into the typed parameters of a
//! user's method.
//!
//! Every argument arrives as bytes. [`FromArg`] says how one value of a type
//! is read from those bytes; [`Args`] walks a command's arguments in the order
//! of the method's parameters. Errors read as Redis's own, so that a client
//! cannot tell a typed uhaha command from a Redis one by its errors.

use bytes::Bytes;
use std::fmt;

/// Why an argument could not be read. Its `Display` is the text of the
/// error reply, `ERR` prefix included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError(String);

impl ArgError {
    /// An error whose reply is `ERR <message>`.
    pub fn new(message: impl fmt::Display) -> Self {
        ArgError(format!("ERR {message}"))
    }

    /// Redis's reply to a non-integer where an integer was expected.
    pub fn not_an_integer() -> Self {
        ArgError::new("value is not an integer or out of range")
    }

    /// Redis's reply to a non-float where a float was expected.
    pub fn not_a_float() -> Self {
        ArgError::new("value is not a valid float")
    }

    /// The full error text, `ERR` prefix included.
    pub fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ArgError {}

/// A type that a command parameter can have: read from one RESP bulk string.
///
/// Implemented for the integers, `f32`/`f64`, `bool`, `String`, `Vec<u8>`
/// and [`Bytes`]. Implement it for your own types, or use
/// [`arg_from_str!`](crate::arg_from_str) for a type that implements
/// [`FromStr`](std::str::FromStr).
///
/// ```
/// use uhaha::{ArgError, FromArg};
///
/// struct Celsius(f64);
///
/// impl FromArg for Celsius {
///     fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
///         f64::from_arg(arg).map(Celsius)
///     }
/// }
/// assert_eq!(Celsius::from_arg(b"21.5").unwrap().0, 21.5);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a command argument",
    label = "this type does not implement `uhaha::FromArg`",
    note = "arguments may be integers, floats, bool, String, Vec<u8>, Bytes, Option<T> (trailing) or Vec<T> (last); implement `uhaha::FromArg` for other types"
)]
pub trait FromArg: Sized {
    /// Reads one value from one argument.
    fn from_arg(arg: &[u8]) -> Result<Self, ArgError>;
}

macro_rules! integer_from_arg {
    ($($t:ty),*) => {$(
        impl FromArg for $t {
            fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
                std::str::from_utf8(arg)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(ArgError::not_an_integer)
            }
        }
    )*};
}
integer_from_arg!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

macro_rules! float_from_arg {
    ($($t:ty),*) => {$(
        impl FromArg for $t {
            fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
                let value: $t = std::str::from_utf8(arg)
                    .ok()
                    .and_then(|s| match s.to_ascii_lowercase().as_str() {
                        "inf" | "+inf" | "infinity" | "+infinity" => Some(<$t>::INFINITY),
                        "-inf" | "-infinity" => Some(<$t>::NEG_INFINITY),
                        _ => s.parse().ok(),
                    })
                    .ok_or_else(ArgError::not_a_float)?;
                if value.is_nan() {
                    return Err(ArgError::not_a_float());
                }
                Ok(value)
            }
        }
    )*};
}
float_from_arg!(f32, f64);

impl FromArg for bool {
    /// `1`, `true`, `yes`, `on` and `0`, `false`, `no`, `off`, in any case.
    fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
        match arg.to_ascii_lowercase().as_slice() {
            b"1" | b"true" | b"yes" | b"on" => Ok(true),
            b"0" | b"false" | b"no" | b"off" => Ok(false),
            _ => Err(ArgError::new("value is not a valid boolean")),
        }
    }
}

impl FromArg for String {
    fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
        String::from_utf8(arg.to_vec()).map_err(|_| ArgError::new("value is not valid UTF-8"))
    }
}

impl FromArg for Vec<u8> {
    fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
        Ok(arg.to_vec())
    }
}

/// A copy in an allocation of its own, sized to the argument, like the
/// other owned types: a machine keeps such values for long, and a clone of
/// the command's own `Bytes` would keep the command's buffer alive with
/// it, behind a shared header that the first clone of a buffer allocates
/// (24 bytes more for each value kept: 12 MB over 500,000 stored values).
impl FromArg for Bytes {
    fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
        Ok(Bytes::copy_from_slice(arg))
    }
}

/// Implements [`FromArg`] for types that implement
/// [`FromStr`](std::str::FromStr): the argument must be UTF-8, and a parse
/// error becomes `ERR invalid argument: <error>`.
///
/// ```
/// #[derive(Debug, PartialEq)]
/// enum Color { Red, Green }
///
/// impl std::str::FromStr for Color {
///     type Err = String;
///     fn from_str(s: &str) -> Result<Self, String> {
///         match s {
///             "red" => Ok(Color::Red),
///             "green" => Ok(Color::Green),
///             _ => Err(format!("no color {s:?}")),
///         }
///     }
/// }
/// uhaha::arg_from_str!(Color);
///
/// use uhaha::FromArg;
/// assert_eq!(Color::from_arg(b"red").unwrap(), Color::Red);
/// assert_eq!(
///     Color::from_arg(b"blue").unwrap_err().to_string(),
///     "ERR invalid argument: no color \"blue\""
/// );
/// ```
#[macro_export]
macro_rules! arg_from_str {
    ($($t:ty),+ $(,)?) => {$(
        impl $crate::FromArg for $t {
            fn from_arg(arg: &[u8]) -> ::core::result::Result<Self, $crate::ArgError> {
                let text = ::core::str::from_utf8(arg)
                    .map_err(|_| $crate::ArgError::new("value is not valid UTF-8"))?;
                text.parse::<$t>()
                    .map_err(|e| $crate::ArgError::new(::core::format_args!("invalid argument: {e}")))
            }
        }
    )+};
}

/// The arguments of one command, its name excluded, read in the order of the
/// method's parameters by the code that `#[uhaha::machine]` generates.
///
/// The arity was checked against the command's [`CommandSpec`](super::CommandSpec)
/// before the generated code runs, so `required` always finds its value.
#[derive(Debug, Clone, Copy)]
pub struct Args<'a> {
    values: &'a [Bytes],
}

impl<'a> Args<'a> {
    /// Wraps a command's arguments, its name excluded.
    pub fn new(values: &'a [Bytes]) -> Self {
        Args { values }
    }

    /// How many arguments there are.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value at `pos`, which the arity check guarantees.
    pub fn required<T: FromArg>(&self, pos: usize) -> Result<T, ArgError> {
        match self.values.get(pos) {
            Some(v) => T::from_arg(v),
            None => Err(ArgError::new("wrong number of arguments")),
        }
    }

    /// The value at `pos` if the client sent one.
    pub fn optional<T: FromArg>(&self, pos: usize) -> Result<Option<T>, ArgError> {
        self.values.get(pos).map(|v| T::from_arg(v)).transpose()
    }

    /// Every value from `pos` on.
    pub fn rest<T: FromArg>(&self, pos: usize) -> Result<Vec<T>, ArgError> {
        self.values
            .get(pos..)
            .unwrap_or_default()
            .iter()
            .map(|v| T::from_arg(v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(values: &[&str]) -> Vec<Bytes> {
        values
            .iter()
            .map(|v| Bytes::copy_from_slice(v.as_bytes()))
            .collect()
    }

    #[test]
    fn integers_parse_in_range_only() {
        assert_eq!(i64::from_arg(b"-42"), Ok(-42));
        assert_eq!(u8::from_arg(b"255"), Ok(255));
        assert_eq!(u8::from_arg(b"256"), Err(ArgError::not_an_integer()));
        assert_eq!(u32::from_arg(b"-1"), Err(ArgError::not_an_integer()));
        assert_eq!(i64::from_arg(b"1.5"), Err(ArgError::not_an_integer()));
        assert_eq!(i64::from_arg(b""), Err(ArgError::not_an_integer()));
        assert_eq!(i64::from_arg(b"\xff"), Err(ArgError::not_an_integer()));
        assert_eq!(
            ArgError::not_an_integer().to_string(),
            "ERR value is not an integer or out of range"
        );
    }

    #[test]
    fn floats_accept_redis_spellings_and_reject_nan() {
        assert_eq!(f64::from_arg(b"1.5"), Ok(1.5));
        assert_eq!(f64::from_arg(b"-inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(f32::from_arg(b"+INF"), Ok(f32::INFINITY));
        assert_eq!(f64::from_arg(b"nan"), Err(ArgError::not_a_float()));
        assert_eq!(f64::from_arg(b"x"), Err(ArgError::not_a_float()));
    }

    #[test]
    fn bools_strings_and_bytes() {
        assert_eq!(bool::from_arg(b"TRUE"), Ok(true));
        assert_eq!(bool::from_arg(b"0"), Ok(false));
        assert!(bool::from_arg(b"maybe").is_err());
        assert_eq!(
            String::from_arg("héllo".as_bytes()),
            Ok("héllo".to_string())
        );
        assert!(String::from_arg(b"\xff\xfe").is_err());
        assert_eq!(Vec::<u8>::from_arg(b"\x00\xff"), Ok(vec![0, 255]));
        let shared = Bytes::from(b"abc".to_vec());
        let kept = Args::new(std::slice::from_ref(&shared))
            .required::<Bytes>(0)
            .unwrap();
        assert_eq!(kept, shared);
        assert_ne!(
            kept.as_ptr(),
            shared.as_ptr(),
            "a Bytes argument is a copy of its own"
        );
    }

    /// A bounded property test over random arguments: every parser agrees
    /// with the standard library, never panics and never yields a NaN.
    #[test]
    fn random_arguments_parse_like_the_standard_library() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"0123456789-+.eEinfINFaxyz \xff\x00";
        for _ in 0..50_000 {
            let len = (next() % 24) as usize;
            let arg: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            let text = std::str::from_utf8(&arg).ok();
            assert_eq!(
                i64::from_arg(&arg).ok(),
                text.and_then(|t| t.parse().ok()),
                "{arg:?}"
            );
            assert_eq!(
                u16::from_arg(&arg).ok(),
                text.and_then(|t| t.parse().ok()),
                "{arg:?}"
            );
            assert!(f64::from_arg(&arg).map_or(true, |f| !f.is_nan()), "{arg:?}");
            assert_eq!(String::from_arg(&arg).is_ok(), text.is_some());
            let _ = bool::from_arg(&arg);
        }
    }

    #[test]
    fn args_walk_required_optional_and_rest() {
        let values = args(&["k", "1", "a", "b"]);
        let a = Args::new(&values);
        assert_eq!(a.required::<String>(0).unwrap(), "k");
        assert_eq!(a.optional::<i64>(1).unwrap(), Some(1));
        assert_eq!(a.optional::<i64>(9).unwrap(), None);
        assert_eq!(a.rest::<String>(2).unwrap(), vec!["a", "b"]);
        assert!(a.rest::<String>(9).unwrap().is_empty());
        assert!(a.rest::<i64>(2).is_err());
    }
}
