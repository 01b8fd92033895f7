//! A RESP2 reply scanner: finds where one reply ends and whether it is an
//! error, without building a value.
//!
//! The load generator never looks inside replies; it only needs to count
//! them (to know when a pipeline's batch is complete) and to count error
//! replies. Decoding into a value tree (as `redis-protocol` does) would
//! allocate for every reply and cost CPU that the client shares with the
//! nodes it measures, so this scanner only walks headers: a bulk string is
//! skipped by its length, an array adds its elements to the number of values
//! still expected (no recursion, so nesting depth costs nothing).

use std::fmt;

/// What [`scan`] found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The buffer holds only the beginning of a reply: read more and scan
    /// again from the same start.
    Incomplete,
    /// A whole reply of `len` bytes; `error` when it is an error reply
    /// (`-...`) at the top level.
    Reply { len: usize, error: bool },
}

/// Bytes that are not a RESP2 reply: the connection cannot be trusted any
/// more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Scans the reply at the start of `buf` (simple string, error, integer,
/// bulk string, array, nested arrays, nulls).
pub fn scan(buf: &[u8]) -> Result<Scan, ProtocolError> {
    let mut pos = 0;
    // Values still expected: the reply itself, plus every element of every
    // array header met so far.
    let mut pending: u64 = 1;
    let error = buf.first() == Some(&b'-');
    while pending > 0 {
        let Some(line_end) = find_crlf(buf, pos + 1) else {
            return Ok(Scan::Incomplete);
        };
        let kind = buf[pos];
        let line = &buf[pos + 1..line_end];
        pos = line_end + 2;
        pending -= 1;
        match kind {
            b'+' | b'-' | b':' => {}
            b'$' => {
                let len = parse_len(line)?;
                if len >= 0 {
                    let end = pos + len as usize + 2;
                    if buf.len() < end {
                        return Ok(Scan::Incomplete);
                    }
                    if &buf[end - 2..end] != b"\r\n" {
                        return Err(ProtocolError("bulk string not ended by CRLF".into()));
                    }
                    pos = end;
                }
            }
            b'*' => {
                let len = parse_len(line)?;
                if len > 0 {
                    pending += len as u64;
                }
            }
            other => {
                return Err(ProtocolError(format!(
                    "unexpected reply type byte {:?}",
                    other as char
                )))
            }
        }
    }
    Ok(Scan::Reply { len: pos, error })
}

/// The index of the next `\r\n` at or after `from`.
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    rest.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

/// A bulk or array length: a decimal number, `-1` for null.
fn parse_len(line: &[u8]) -> Result<i64, ProtocolError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|n| *n >= -1)
        .ok_or_else(|| {
            ProtocolError(format!(
                "bad length {:?}",
                String::from_utf8_lossy(line).into_owned()
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> Scan {
        scan(bytes).expect("valid RESP")
    }

    #[test]
    fn scans_every_simple_type() {
        for (reply, error) in [
            (&b"+OK\r\n"[..], false),
            (b"-ERR wrong number of arguments\r\n", true),
            (b":42\r\n", false),
            (b"$5\r\nhello\r\n", false),
            (b"$0\r\n\r\n", false),
            (b"$-1\r\n", false),
            (b"*-1\r\n", false),
            (b"*0\r\n", false),
        ] {
            assert_eq!(
                whole(reply),
                Scan::Reply {
                    len: reply.len(),
                    error
                },
                "{:?}",
                String::from_utf8_lossy(reply)
            );
        }
    }

    #[test]
    fn bulk_strings_may_hold_crlf() {
        let reply = b"$4\r\n\r\n\r\n\r\n";
        assert_eq!(
            whole(reply),
            Scan::Reply {
                len: reply.len(),
                error: false
            }
        );
    }

    #[test]
    fn nested_arrays_are_one_reply() {
        let reply = b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n-inner error\r\n$-1\r\n";
        let mut buf = reply.to_vec();
        buf.extend_from_slice(b"+NEXT\r\n");
        assert_eq!(
            whole(&buf),
            Scan::Reply {
                len: reply.len(),
                error: false
            },
            "an error inside an array is part of the reply, not an error reply"
        );
    }

    #[test]
    fn every_strict_prefix_is_incomplete() {
        let reply = b"*2\r\n$3\r\nfoo\r\n*2\r\n:1\r\n+x\r\n";
        for cut in 0..reply.len() {
            assert_eq!(
                whole(&reply[..cut]),
                Scan::Incomplete,
                "prefix of {cut} bytes"
            );
        }
        assert_eq!(
            whole(reply),
            Scan::Reply {
                len: reply.len(),
                error: false
            }
        );
    }

    #[test]
    fn pipelined_replies_are_scanned_one_at_a_time() {
        let buf = b":1\r\n-ERR no\r\n$2\r\nok\r\n";
        let mut pos = 0;
        let mut found = Vec::new();
        while pos < buf.len() {
            match whole(&buf[pos..]) {
                Scan::Reply { len, error } => {
                    found.push(error);
                    pos += len;
                }
                Scan::Incomplete => panic!("complete input"),
            }
        }
        assert_eq!(found, [false, true, false]);
    }

    #[test]
    fn garbage_is_a_protocol_error() {
        assert!(scan(b"hello\r\n").is_err());
        assert!(scan(b"$abc\r\n").is_err());
        assert!(scan(b"*-2\r\n").is_err());
        assert!(scan(b"$3\r\nfooXY").is_err());
    }
}
