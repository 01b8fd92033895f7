//! The cluster's secret (`--auth`): clients prove it with `AUTH` or
//! `HELLO`, peers in their handshake. Compared in constant time, so that
//! the time a refusal takes tells nothing of where the guess went wrong.

/// Whether `given` is the secret `expected`, in time independent of where
/// they differ.
pub fn same_secret(expected: &[u8], given: &[u8]) -> bool {
    let mut diff = (expected.len() != given.len()) as u8;
    for (i, x) in expected.iter().enumerate() {
        diff |= x ^ given.get(i % given.len().max(1)).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"secret", b"secret"));
        assert!(!same_secret(b"secret", b"secreT"));
        assert!(!same_secret(b"secret", b"secret2"));
        assert!(!same_secret(b"", b"x"));
        assert!(same_secret(b"", b""));
    }
}
