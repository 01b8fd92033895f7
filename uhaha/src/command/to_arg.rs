//! [`ToArg`]: the inverse of [`FromArg`](super::FromArg), turning a value
//! into the bytes of one command argument. The typed clients that
//! `#[uhaha::machine]` generates send their parameters through it, and
//! [`Intermediate::command`](super::Intermediate::command) builds commands
//! with it.

use bytes::Bytes;

/// A value that can be sent as one command argument.
///
/// Implemented for every type that implements [`FromArg`](super::FromArg)
/// (the integers, `f32`/`f64`, `bool`, `String`, `Vec<u8>`, [`Bytes`]) and
/// for `&str` and `&[u8]`, so that what one side sends the other reads
/// back unchanged. A command parameter of your own type needs both
/// `FromArg` (for the node) and `ToArg` (for the generated client).
///
/// ```
/// use uhaha::{ArgError, FromArg, ToArg};
/// use uhaha::Bytes;
///
/// #[derive(Debug, PartialEq)]
/// struct Celsius(f64);
///
/// impl FromArg for Celsius {
///     fn from_arg(arg: &[u8]) -> Result<Self, ArgError> {
///         f64::from_arg(arg).map(Celsius)
///     }
/// }
///
/// impl ToArg for Celsius {
///     fn into_arg(self) -> Bytes {
///         self.0.into_arg()
///     }
/// }
///
/// let sent = Celsius(21.5).into_arg();
/// assert_eq!(Celsius::from_arg(&sent).unwrap(), Celsius(21.5));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be sent as a command argument",
    label = "this type does not implement `uhaha::ToArg`",
    note = "the typed client sends every argument through `uhaha::ToArg`, the inverse of `uhaha::FromArg`: implement it for your argument types, writing what their `FromArg` reads"
)]
pub trait ToArg {
    /// The argument's bytes.
    fn into_arg(self) -> Bytes;
}

macro_rules! display_to_arg {
    ($($t:ty),*) => {$(
        impl ToArg for $t {
            fn into_arg(self) -> Bytes {
                Bytes::from(self.to_string())
            }
        }
    )*};
}
// Rust prints floats as the shortest text that reads back the same, and
// infinities as `inf` and `-inf`, which `FromArg` accepts.
display_to_arg!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64);

impl ToArg for bool {
    /// `1` or `0`, as Redis writes booleans.
    fn into_arg(self) -> Bytes {
        Bytes::from_static(if self { b"1" } else { b"0" })
    }
}

impl ToArg for String {
    fn into_arg(self) -> Bytes {
        Bytes::from(self)
    }
}

impl ToArg for &str {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self.as_bytes())
    }
}

impl ToArg for Vec<u8> {
    fn into_arg(self) -> Bytes {
        Bytes::from(self)
    }
}

impl ToArg for &[u8] {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl<const N: usize> ToArg for &[u8; N] {
    fn into_arg(self) -> Bytes {
        Bytes::copy_from_slice(self)
    }
}

impl ToArg for Bytes {
    fn into_arg(self) -> Bytes {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::FromArg;
    use std::fmt::Debug;

    fn round_trip<T: ToArg + FromArg + Clone + PartialEq + Debug>(value: T) {
        let sent = value.clone().into_arg();
        assert_eq!(T::from_arg(&sent), Ok(value), "sent as {sent:?}");
    }

    #[test]
    fn every_from_arg_type_reads_back_what_it_sends() {
        round_trip(i8::MIN);
        round_trip(-1i16);
        round_trip(i32::MAX);
        round_trip(i64::MIN);
        round_trip(i128::MAX);
        round_trip(isize::MIN);
        round_trip(u8::MAX);
        round_trip(7u16);
        round_trip(u32::MAX);
        round_trip(u64::MAX);
        round_trip(u128::MAX);
        round_trip(usize::MAX);
        for f in [
            0.1f64,
            -2.5e-300,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.0,
        ] {
            round_trip(f);
        }
        round_trip(0.1f32);
        round_trip(f32::MAX);
        round_trip(true);
        round_trip(false);
        round_trip("héllo".to_string());
        round_trip(String::new());
        round_trip(vec![0u8, 255, b'\r', b'\n']);
        round_trip(Bytes::from_static(b"\x00bytes"));
    }

    #[test]
    fn borrowed_strings_and_bytes_are_copied() {
        assert_eq!("key".into_arg(), Bytes::from("key"));
        assert_eq!((&b"\xff"[..]).into_arg(), Bytes::from(vec![255u8]));
        assert_eq!(b"ab".into_arg(), Bytes::from("ab"));
    }
}
