//! Cryptography for plugins.
//!
//! In a plugin (wasm32) these functions call the host through the WIT `crypto` import. Natively
//! they are [`native`]'s Rust implementation, which is also what the host runs to answer
//! that import: one implementation, so a plugin's native unit tests and the plugin running
//! in Inlet agree bit for bit.

/// The hash functions offered by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha1,
    Sha256,
    Sha512,
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{constant_time_eq, digest, ed25519_verify, hmac};
#[cfg(target_arch = "wasm32")]
pub use wasm::{constant_time_eq, digest, ed25519_verify, hmac};

/// HMAC-SHA256, the signature most providers use.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac(HashAlgorithm::Sha256, key, data)
}

/// The WIT `crypto` import (only in a wasm build).
#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::HashAlgorithm;
    use crate::bindings::inlet::plugin::crypto as host;

    fn to_host(algorithm: HashAlgorithm) -> host::HashAlgorithm {
        match algorithm {
            HashAlgorithm::Sha1 => host::HashAlgorithm::Sha1,
            HashAlgorithm::Sha256 => host::HashAlgorithm::Sha256,
            HashAlgorithm::Sha512 => host::HashAlgorithm::Sha512,
        }
    }

    pub fn hmac(algorithm: HashAlgorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
        host::hmac(to_host(algorithm), key, data)
    }

    pub fn digest(algorithm: HashAlgorithm, data: &[u8]) -> Vec<u8> {
        host::digest(to_host(algorithm), data)
    }

    pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        host::constant_time_eq(a, b)
    }

    pub fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        host::ed25519_verify(public_key, message, signature)
    }
}

/// The native implementation (not in a wasm build). The host implements the WIT `crypto`
/// import with exactly these functions.
#[cfg(not(target_arch = "wasm32"))]
pub mod native {
    use hmac::digest::KeyInit;
    use hmac::{Hmac, Mac};
    use sha1::Sha1;
    use sha2::{Digest, Sha256, Sha512};
    use subtle::ConstantTimeEq;

    use super::HashAlgorithm;

    fn mac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = <M as KeyInit>::new_from_slice(key).expect("HMAC accepts keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// HMAC of `data` under `key`.
    pub fn hmac(algorithm: HashAlgorithm, key: &[u8], data: &[u8]) -> Vec<u8> {
        match algorithm {
            HashAlgorithm::Sha1 => mac::<Hmac<Sha1>>(key, data),
            HashAlgorithm::Sha256 => mac::<Hmac<Sha256>>(key, data),
            HashAlgorithm::Sha512 => mac::<Hmac<Sha512>>(key, data),
        }
    }

    /// The hash of `data`.
    pub fn digest(algorithm: HashAlgorithm, data: &[u8]) -> Vec<u8> {
        match algorithm {
            HashAlgorithm::Sha1 => Sha1::digest(data).to_vec(),
            HashAlgorithm::Sha256 => Sha256::digest(data).to_vec(),
            HashAlgorithm::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Whether `a == b`, in time independent of their contents. False for different lengths
    /// (the length itself is not secret: signatures have fixed lengths).
    pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }

    /// Verifies an Ed25519 `signature` (64 bytes) of `message` under `public_key` (32 bytes),
    /// strictly (RFC 8032, no malleable signatures or weak keys). False for malformed input;
    /// never panics.
    pub fn ed25519_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let (Ok(key), Ok(signature)) = (
            <[u8; 32]>::try_from(public_key),
            <[u8; 64]>::try_from(signature),
        ) else {
            return false;
        };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
            return false;
        };
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature))
            .is_ok()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_and_2202() {
        let (key, data) = (
            b"Jefe".as_slice(),
            b"what do ya want for nothing?".as_slice(),
        );
        assert_eq!(
            hex::encode(hmac(HashAlgorithm::Sha256, key, data)),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(hmac(HashAlgorithm::Sha512, key, data)),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        assert_eq!(
            hex::encode(hmac(HashAlgorithm::Sha1, key, data)),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
        assert_eq!(
            hmac_sha256(key, data),
            hmac(HashAlgorithm::Sha256, key, data)
        );
        // Keys longer than the block size are hashed first, not refused.
        assert_eq!(hmac(HashAlgorithm::Sha256, &[0xaa; 200], b"x").len(), 32);
        assert_eq!(hmac(HashAlgorithm::Sha256, b"", b"").len(), 32);
    }

    #[test]
    fn digests() {
        assert_eq!(
            hex::encode(digest(HashAlgorithm::Sha256, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(digest(HashAlgorithm::Sha1, b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(digest(HashAlgorithm::Sha512, b"abc").len(), 64);
    }

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn ed25519_verifies_rfc_8032_test_1_and_rejects_garbage() {
        let key = hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
            .unwrap();
        let sig = hex::decode(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        )
        .unwrap();
        assert!(ed25519_verify(&key, b"", &sig));
        assert!(!ed25519_verify(&key, b"x", &sig));
        assert!(!ed25519_verify(&key[..31], b"", &sig));
        assert!(!ed25519_verify(&key, b"", &sig[..10]));
        assert!(!ed25519_verify(&[], b"", &[]));
        assert!(!ed25519_verify(&[0xff; 32], b"", &sig));
        assert!(!ed25519_verify(&key, b"", &[0xff; 64]));
    }
}
