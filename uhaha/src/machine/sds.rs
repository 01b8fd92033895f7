//! The varints and length-prefixed bytes of Go's `tidwall/sds`, in which Go
//! uhaha's services (its kvdb and timeseries examples among them) wrote
//! their snapshots: for a [`Snapshot`](crate::Snapshot) that reads a Go
//! cluster's payload ([`Snapshot::restore_go`](crate::Snapshot::restore_go)),
//! or that writes the same compact format itself.
//!
//! ```
//! use uhaha::sds::{ReadSds, WriteSds};
//!
//! let mut out = Vec::new();
//! out.write_uvarint(300).unwrap();
//! out.write_varint(-5).unwrap();
//! out.write_bytes(b"key").unwrap();
//! assert_eq!(out, [0xac, 0x02, 0x09, 3, b'k', b'e', b'y']);
//!
//! let mut from = &out[..];
//! assert_eq!(from.read_uvarint().unwrap(), 300);
//! assert_eq!(from.read_varint().unwrap(), -5);
//! assert_eq!(from.read_bytes().unwrap(), b"key");
//! ```

use std::io::{self, BufRead, Read, Write};

/// Writes sds values: `impl`emented for every writer.
pub trait WriteSds: Write {
    /// An unsigned LEB128 varint (Go's `binary.PutUvarint`).
    fn write_uvarint(&mut self, mut n: u64) -> io::Result<()> {
        let mut buf = [0u8; 10];
        let mut len = 0;
        while n >= 0x80 {
            buf[len] = n as u8 | 0x80;
            n >>= 7;
            len += 1;
        }
        buf[len] = n as u8;
        self.write_all(&buf[..=len])
    }

    /// A signed zig-zag varint (Go's `binary.PutVarint`).
    fn write_varint(&mut self, n: i64) -> io::Result<()> {
        self.write_uvarint(((n << 1) ^ (n >> 63)) as u64)
    }

    /// Bytes behind their length as a uvarint.
    fn write_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.write_uvarint(bytes.len() as u64)?;
        self.write_all(bytes)
    }
}

impl<W: Write + ?Sized> WriteSds for W {}

/// Reads sds values: `impl`emented for every buffered reader.
pub trait ReadSds: BufRead {
    /// An unsigned LEB128 varint; more than 64 bits is an error.
    fn read_uvarint(&mut self) -> io::Result<u64> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let mut byte = [0u8];
            self.read_exact(&mut byte)?;
            let low = u64::from(byte[0] & 0x7f);
            if shift == 63 && low > 1 {
                break;
            }
            n |= low << shift;
            if byte[0] < 0x80 {
                return Ok(n);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "a varint longer than 64 bits",
        ))
    }

    /// A signed zig-zag varint.
    fn read_varint(&mut self) -> io::Result<i64> {
        let n = self.read_uvarint()?;
        Ok((n >> 1) as i64 ^ -((n & 1) as i64))
    }

    /// Bytes behind their length. A length past the end of the input is an
    /// error, found without allocating it first.
    fn read_bytes(&mut self) -> io::Result<Vec<u8>> {
        let len = self.read_uvarint()?;
        let mut bytes = Vec::new();
        self.take(len).read_to_end(&mut bytes)?;
        if (bytes.len() as u64) < len {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(bytes)
    }
}

impl<R: BufRead + ?Sized> ReadSds for R {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_their_edges() {
        for n in [0, 1, 127, 128, 16_383, 16_384, u64::MAX / 2, u64::MAX] {
            let mut out = Vec::new();
            out.write_uvarint(n).unwrap();
            assert_eq!((&out[..]).read_uvarint().unwrap(), n, "{n}");
        }
        for n in [0, 1, -1, 63, -64, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            out.write_varint(n).unwrap();
            assert_eq!((&out[..]).read_varint().unwrap(), n, "{n}");
        }
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!((&[0xff; 11][..]).read_uvarint().is_err(), "too long");
        assert!((&[0x80][..]).read_uvarint().is_err(), "cut short");
        let huge = [0xff, 0xff, 0xff, 0xff, 0x0f, b'x'];
        assert!((&huge[..]).read_bytes().is_err(), "a length past the end");
    }
}
