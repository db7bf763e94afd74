//! Secret handling shared by every verifier and by API authentication: constant-time
//! comparison, hashing of stored credentials, random tokens, and masking for output.

use inlet_sdk::crypto::{HashAlgorithm, constant_time_eq, digest};

/// What a secret looks like in any API response.
pub const MASK: &str = "********";

/// Compares two secrets in constant time. Both sides are hashed first so that neither the
/// content nor the length of the expected value leaks through timing.
pub fn secret_eq(provided: &[u8], expected: &[u8]) -> bool {
    constant_time_eq(&sha256(provided), &sha256(expected))
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    digest(HashAlgorithm::Sha256, bytes)
        .try_into()
        .expect("SHA-256 digests are 32 bytes")
}

/// A random token with the given prefix and 256 bits of entropy, hex encoded.
pub fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(random_bytes::<32>()))
}

/// An unguessable URL-safe identifier (128 bits) for public ingest URLs.
pub fn random_mask_id() -> String {
    hex::encode(random_bytes::<16>())
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
}

/// Replaces a secret with the mask unless it is empty (an empty secret is shown as empty,
/// so a misconfiguration stays visible).
pub fn mask(secret: &str) -> String {
    if secret.is_empty() {
        String::new()
    } else {
        MASK.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_eq_matches_only_identical_values() {
        assert!(secret_eq(b"s3cret", b"s3cret"));
        assert!(!secret_eq(b"s3cret", b"s3cres"));
        assert!(!secret_eq(b"s3cret", b"s3cret "));
        assert!(!secret_eq(b"", b"x"));
    }

    #[test]
    fn tokens_are_random_and_prefixed() {
        let a = random_token("ik_");
        let b = random_token("ik_");
        assert!(a.starts_with("ik_") && a.len() == 67);
        assert_ne!(a, b);
        assert_eq!(random_mask_id().len(), 32);
    }
}
