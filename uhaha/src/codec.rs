//! The one place that decides how values are written to disk and to peers:
//! bincode 2 with its serde support. bincode is marked unmaintained, so it is
//! kept behind these functions and can be swapped here alone.

use serde::de::DeserializeOwned;
use serde::Serialize;

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes a value.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::serde::encode_to_vec(value, config()).map_err(|e| CodecError(e.to_string()))
}

/// Encodes a value at the end of `buf`, to write many values with one
/// allocation.
pub fn encode_into<T: Serialize>(value: &T, buf: &mut Vec<u8>) -> Result<(), CodecError> {
    bincode::serde::encode_into_std_write(value, buf, config())
        .map(drop)
        .map_err(|e| CodecError(e.to_string()))
}

/// Decodes a value that [`encode`] wrote; trailing bytes are an error.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| CodecError(e.to_string()))?;
    if used != bytes.len() {
        return Err(CodecError(format!("{} trailing bytes", bytes.len() - used)));
    }
    Ok(value)
}

/// Decodes a value that [`encode`] wrote from a reader, which must end
/// with it: trailing bytes are an error.
pub fn decode_from<T: DeserializeOwned>(from: &mut dyn std::io::BufRead) -> Result<T, CodecError> {
    let value = bincode::serde::decode_from_std_read(&mut &mut *from, config())
        .map_err(|e| CodecError(e.to_string()))?;
    match from.fill_buf() {
        Ok([]) => Ok(value),
        Ok(_) => Err(CodecError("trailing bytes".into())),
        Err(e) => Err(CodecError(e.to_string())),
    }
}

/// A value could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(String);

impl CodecError {
    /// An error of a value that cannot be encoded, said in words.
    pub(crate) fn new(message: String) -> CodecError {
        CodecError(message)
    }
}

impl std::fmt::Display for CodecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "codec: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reject_garbage() {
        let value = (7u64, "seven".to_string(), vec![1u8, 2]);
        let bytes = encode(&value).unwrap();
        assert_eq!(decode::<(u64, String, Vec<u8>)>(&bytes).unwrap(), value);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<(u64, String, Vec<u8>)>(&longer).is_err());
        assert!(decode::<(u64, String, Vec<u8>)>(&bytes[..2]).is_err());
    }
}
