//! Reads replies, RESP3 or RESP2, into [`Reply`] values: the inverse of the
//! server's encoder, keeping the order of maps and sets.
//!
//! Why not `redis-protocol` (6.0, RESP3 `complete::decode`, tried with the
//! `index-map` feature on the same inputs): it refuses RESP2's nulls
//! (`$-1`, `*-1`: "Expected complete frame"), it keeps one entry of a map
//! whose keys repeat, and it recurses once per level of nesting without a
//! limit, so that a reply of 200,000 nested arrays overflowed the stack and
//! aborted the process. This decoder reads both protocols, keeps every
//! pair, and refuses nesting deeper than [`MAX_DEPTH`].

use crate::command::Reply;
use bytes::{Buf, Bytes, BytesMut};

/// Deepest nesting of aggregates a reply may have.
const MAX_DEPTH: usize = 64;
/// Longest bulk string or aggregate a reply may announce.
const MAX_LEN: i64 = 512 << 20;

/// A reply that breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

/// Takes one whole reply off the front of `buf`, or `None` if more bytes are
/// needed.
pub fn decode(buf: &mut BytesMut) -> Result<Option<Reply>, DecodeError> {
    let mut pos = 0;
    match parse(buf, &mut pos, 0)? {
        Some(reply) => {
            buf.advance(pos);
            Ok(Some(reply))
        }
        None => Ok(None),
    }
}

fn error(what: impl Into<String>) -> DecodeError {
    DecodeError(what.into())
}

/// The line at `pos` without its CRLF, moving `pos` past it.
fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = &buf[*pos..];
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += end + 2;
    Some(&rest[..end])
}

fn text(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

fn number(line: &[u8]) -> Result<i64, DecodeError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| error(format!("bad number {:?}", text(line))))
}

/// A length: `-1` (RESP2's null) as `None`.
fn length(line: &[u8]) -> Result<Option<usize>, DecodeError> {
    match number(line)? {
        -1 => Ok(None),
        n if (0..=MAX_LEN).contains(&n) => Ok(Some(n as usize)),
        n => Err(error(format!("bad length {n}"))),
    }
}

/// `len` bytes and their CRLF at `pos`.
fn blob(buf: &[u8], pos: &mut usize, len: usize) -> Result<Option<Bytes>, DecodeError> {
    if buf.len() < *pos + len + 2 {
        return Ok(None);
    }
    if &buf[*pos + len..*pos + len + 2] != b"\r\n" {
        return Err(error("bulk string without CRLF"));
    }
    let data = Bytes::copy_from_slice(&buf[*pos..*pos + len]);
    *pos += len + 2;
    Ok(Some(data))
}

fn parse(buf: &[u8], pos: &mut usize, depth: usize) -> Result<Option<Reply>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(error("reply nested too deep"));
    }
    let Some(&kind) = buf.get(*pos) else {
        return Ok(None);
    };
    *pos += 1;
    let Some(head) = line(buf, pos) else {
        return Ok(None);
    };
    let reply = match kind {
        b'+' => Reply::Status(text(head)),
        b'-' => Reply::Error(text(head)),
        b':' => Reply::Integer(number(head)?),
        b'_' => Reply::Null,
        b'#' => match head {
            b"t" => Reply::Boolean(true),
            b"f" => Reply::Boolean(false),
            _ => return Err(error("bad boolean")),
        },
        b',' => Reply::Double(double(head)?),
        b'(' => Reply::Bulk(Bytes::copy_from_slice(head)),
        b'$' | b'!' | b'=' => {
            let Some(len) = length(head)? else {
                return Ok(Some(Reply::Null));
            };
            let Some(data) = blob(buf, pos, len)? else {
                return Ok(None);
            };
            match kind {
                b'$' => Reply::Bulk(data),
                b'!' => Reply::Error(text(&data)),
                // Verbatim: a three-letter format and a colon first.
                _ => Reply::Verbatim(text(data.get(4..).unwrap_or_default())),
            }
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let Some(len) = length(head)? else {
                return Ok(Some(Reply::Null));
            };
            let pairs = matches!(kind, b'%' | b'|');
            let mut items = Vec::with_capacity(len.min(1024) * (1 + pairs as usize));
            for _ in 0..len * (1 + pairs as usize) {
                match parse(buf, pos, depth + 1)? {
                    Some(item) => items.push(item),
                    None => return Ok(None),
                }
            }
            match kind {
                b'*' => Reply::Array(items),
                b'>' => Reply::Push(items),
                b'~' => Reply::Set(items),
                b'%' => Reply::Map(into_pairs(items)),
                // Attributes describe the reply that follows: skip them.
                _ => return parse(buf, pos, depth + 1),
            }
        }
        other => return Err(error(format!("unknown reply type {:?}", other as char))),
    };
    Ok(Some(reply))
}

fn double(line: &[u8]) -> Result<f64, DecodeError> {
    match line {
        b"inf" => Ok(f64::INFINITY),
        b"-inf" => Ok(f64::NEG_INFINITY),
        b"nan" => Ok(f64::NAN),
        _ => std::str::from_utf8(line)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| error("bad double")),
    }
}

fn into_pairs(items: Vec<Reply>) -> Vec<(Reply, Reply)> {
    let mut items = items.into_iter();
    let mut pairs = Vec::with_capacity(items.len() / 2);
    while let (Some(k), Some(v)) = (items.next(), items.next()) {
        pairs.push((k, v));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Protocol;

    fn sample() -> Reply {
        Reply::Array(vec![
            Reply::Status("OK".into()),
            Reply::Error("ERR no".into()),
            Reply::Integer(-7),
            Reply::bulk("two\r\nlines"),
            Reply::Null,
            Reply::Map(vec![
                (Reply::bulk("b"), Reply::Double(1.5)),
                (Reply::bulk("a"), Reply::Boolean(true)),
            ]),
            Reply::Set(vec![Reply::Integer(3), Reply::Integer(1)]),
            Reply::Verbatim("info text".into()),
            Reply::Push(vec![Reply::bulk("message"), Reply::bulk("news")]),
        ])
    }

    fn resp3(reply: &Reply) -> BytesMut {
        let mut out = BytesMut::new();
        reply.encode(Protocol::Resp3, &mut out);
        out
    }

    #[test]
    fn what_the_server_encodes_decodes_back() {
        let mut buf = resp3(&sample());
        assert_eq!(decode(&mut buf).unwrap(), Some(sample()));
        assert!(buf.is_empty());
    }

    #[test]
    fn partial_replies_wait_for_more_bytes() {
        let bytes = resp3(&sample());
        for cut in 0..bytes.len() {
            let mut buf = BytesMut::from(&bytes[..cut]);
            assert_eq!(decode(&mut buf).unwrap(), None, "cut at {cut}");
            assert_eq!(buf.len(), cut);
        }
    }

    #[test]
    fn resp2_nulls_attributes_and_garbage() {
        let mut buf = BytesMut::from(&b"$-1\r\n*-1\r\n|1\r\n+k\r\n+v\r\n:5\r\n"[..]);
        assert_eq!(decode(&mut buf).unwrap(), Some(Reply::Null));
        assert_eq!(decode(&mut buf).unwrap(), Some(Reply::Null));
        assert_eq!(decode(&mut buf).unwrap(), Some(Reply::Integer(5)));
        assert!(decode(&mut BytesMut::from(&b"?x\r\n"[..])).is_err());
        assert!(decode(&mut BytesMut::from(&b"$-5\r\n"[..])).is_err());
        assert!(decode(&mut BytesMut::from(&b"$1\r\nab\r\n"[..])).is_err());
        let deep = "*1\r\n".repeat(100) + ":1\r\n";
        assert!(decode(&mut BytesMut::from(deep.as_bytes())).is_err());
    }
}
