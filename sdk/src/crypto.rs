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
pub use native::{
    constant_time_eq, digest, ecdsa_p256_sha256_verify, ed25519_verify, hmac, rsa_pkcs1v15_verify,
};
#[cfg(target_arch = "wasm32")]
pub use wasm::{
    constant_time_eq, digest, ecdsa_p256_sha256_verify, ed25519_verify, hmac, rsa_pkcs1v15_verify,
};

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

    pub fn ecdsa_p256_sha256_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        host::ecdsa_p256_sha256_verify(public_key, message, signature)
    }

    pub fn rsa_pkcs1v15_verify(
        algorithm: HashAlgorithm,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        host::rsa_pkcs1v15_verify(to_host(algorithm), public_key, message, signature)
    }
}

/// The native implementation (not in a wasm build). The host implements the WIT `crypto`
/// import with exactly these functions.
#[cfg(not(target_arch = "wasm32"))]
pub mod native {
    use aws_lc_rs::signature::{self, VerificationAlgorithm};
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

    /// Verifies an ECDSA P-256 signature over SHA-256 of `message` (aws-lc-rs, the
    /// library rustls runs on here). The key is a DER `SubjectPublicKeyInfo` or an
    /// uncompressed SEC1 point; the signature DER or raw `r || s` (64 bytes).
    pub fn ecdsa_p256_sha256_verify(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let algorithm: &dyn VerificationAlgorithm = if signature.len() == 64 {
            &signature::ECDSA_P256_SHA256_FIXED
        } else {
            &signature::ECDSA_P256_SHA256_ASN1
        };
        verify(algorithm, public_key, message, signature)
    }

    /// Verifies an RSASSA-PKCS1-v1_5 signature of `message` with SHA-256 or SHA-1 (a
    /// 2048-to-8192-bit key, DER `SubjectPublicKeyInfo` or PKCS#1 `RSAPublicKey`). False
    /// for SHA-512, which no provider uses with this scheme.
    pub fn rsa_pkcs1v15_verify(
        algorithm: HashAlgorithm,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let algorithm: &dyn VerificationAlgorithm = match algorithm {
            HashAlgorithm::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            HashAlgorithm::Sha1 => &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            HashAlgorithm::Sha512 => return false,
        };
        verify(algorithm, public_key, message, signature)
    }

    fn verify(
        algorithm: &'static dyn VerificationAlgorithm,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        signature::UnparsedPublicKey::new(algorithm, public_key)
            .verify(message, signature)
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

    /// Keys and signatures of "hello" made with OpenSSL 3 (`openssl dgst -sign`), so these
    /// check the host against an independent implementation.
    const EC_SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUqNaUx3PlnkjkO5JkdGj6G6l8PKnnI0rcNb6ppprXGTbKuQWk6TveYZ9YHVPk8GF+avbc5GkV16Q3MMvOeZm3Q==";
    const EC_SIG_DER: &str = "MEYCIQD9UiAnk1LLvkNJFmGsGLYlKPb2kyeLZKA1wzlcyIZ7xwIhAO6dAWKdocjeKFUC1i4EU6d3PZLE1m2zu/OJtVY6lpqH";
    const EC_SIG_RAW: &str =
        "/VIgJ5NSy75DSRZhrBi2JSj29pMni2SgNcM5XMiGe8funQFinaHI3ihVAtYuBFOndz2SxNZts7vzibVWOpaahw==";
    const RSA_SPKI: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxeuhTwLA33jaVzqsbB/3dsv2LpKArr7yurYZueirL2s+zWFVapTzZjamNntRZfqOT3QpTNWPRtUiWJLY3bLW4psd8BGAAxICgCZJvg32GeSUWOdA6KgdqsxjhZicTclMwL7NKf4pIuq9WNo5id6pmKBO6FlEXTYmpm3sDQ9UO5ffQt98zqzEZYomTdFZU5gdNFNW3pzokC47sDY7SZnJEwKhcD6p5IAvae+HRfb4P3ot8aIlplPvh2YBEbVLsaOwE/7PLWCi65eYWGXUp2aNorco/pqw0mfAeBnKa4VDsP6lLKJFXfYCmgZTZlS37oGmbWmA3vgF2x5NtORgmefWjwIDAQAB";
    const RSA_PKCS1: &str = "MIIBCgKCAQEAxeuhTwLA33jaVzqsbB/3dsv2LpKArr7yurYZueirL2s+zWFVapTzZjamNntRZfqOT3QpTNWPRtUiWJLY3bLW4psd8BGAAxICgCZJvg32GeSUWOdA6KgdqsxjhZicTclMwL7NKf4pIuq9WNo5id6pmKBO6FlEXTYmpm3sDQ9UO5ffQt98zqzEZYomTdFZU5gdNFNW3pzokC47sDY7SZnJEwKhcD6p5IAvae+HRfb4P3ot8aIlplPvh2YBEbVLsaOwE/7PLWCi65eYWGXUp2aNorco/pqw0mfAeBnKa4VDsP6lLKJFXfYCmgZTZlS37oGmbWmA3vgF2x5NtORgmefWjwIDAQAB";
    const RSA_SHA256_SIG: &str = "w0gh4of/nNxKYzv76b3euncBy6USyREAMYwYvkNmhWLov9HmEMt6VUeYcvknEef9wmLfjWemgexFt9eioGESD/P8GcOmWooU4j1kfhaXg7n+LW5f6J+VBng+63OXSg0FsXWFPzmFCD1twgK+/QJSgcRijspsAM3QkbvdRCWjSEAJ6x3GcOZRHMJsCXcJ3/aw72VHylXYyHJYcpGp+tiPwyBnuBxGEsiU+83iaPngrhuCBh35j6/5aTGM0xBOeJFa010U7Fzp2rVB7XgTLy0Hby4gL8MLRV8t0eghIHokCBTeKAB/LTTH07tCNQP5MYyRZ78MPAuR/DSPAWiTpWOl8A==";
    const RSA_SHA1_SIG: &str = "p7UB6Ut3F+s5VwcfmbIC4Tlp/JPpVJR9cwZFphmEMMgOnJ+9JZ07dX6XczsYdfn+F9oPtSbQ3zx7R91OaKi2oFqh8G2b8VMuimgusJ7eUR33jSR5ql2oBET1IE/MWZRJg7aGnbl427ojo9ziO4qj2piN4jwsAlEP3hQcc+p7sLhcgMqVwnclgGjMzzHEcvgjkMX2RlHRIx7OmEPSHFNNc8S751kkmSEk80ncczu89oE4MJN8y9+Erabk6MbO0NY28Z/HQmwHfrve2bJ5iffaW2YHanKmBBY3T0CaiP7LiOhusCCKSuEvr1Oy0KK3cUqFPqyKdsfziWNvYHMicFaOtg==";

    fn b64(text: &str) -> Vec<u8> {
        crate::base64_decode(text).unwrap()
    }

    #[test]
    fn ecdsa_p256_verifies_der_and_raw_signatures_made_by_openssl() {
        let key = b64(EC_SPKI);
        let point = &key[key.len() - 65..];
        for signature in [b64(EC_SIG_DER), b64(EC_SIG_RAW)] {
            assert!(ecdsa_p256_sha256_verify(&key, b"hello", &signature));
            assert!(ecdsa_p256_sha256_verify(point, b"hello", &signature));
            assert!(!ecdsa_p256_sha256_verify(&key, b"hellO", &signature));
            let mut flipped = signature.clone();
            flipped[10] ^= 1;
            assert!(!ecdsa_p256_sha256_verify(&key, b"hello", &flipped));
        }
        assert!(!ecdsa_p256_sha256_verify(
            &key[..40],
            b"hello",
            &b64(EC_SIG_DER)
        ));
        assert!(!ecdsa_p256_sha256_verify(&[], b"hello", &[]));
        assert!(!ecdsa_p256_sha256_verify(
            &b64(RSA_SPKI),
            b"hello",
            &b64(EC_SIG_DER)
        ));
    }

    #[test]
    fn rsa_pkcs1v15_verifies_sha256_and_sha1_signatures_made_by_openssl() {
        for key in [b64(RSA_SPKI), b64(RSA_PKCS1)] {
            let (sha256, sha1) = (b64(RSA_SHA256_SIG), b64(RSA_SHA1_SIG));
            assert!(rsa_pkcs1v15_verify(
                HashAlgorithm::Sha256,
                &key,
                b"hello",
                &sha256
            ));
            assert!(rsa_pkcs1v15_verify(
                HashAlgorithm::Sha1,
                &key,
                b"hello",
                &sha1
            ));
            assert!(!rsa_pkcs1v15_verify(
                HashAlgorithm::Sha256,
                &key,
                b"hello",
                &sha1
            ));
            assert!(!rsa_pkcs1v15_verify(
                HashAlgorithm::Sha1,
                &key,
                b"hellO",
                &sha1
            ));
            assert!(!rsa_pkcs1v15_verify(
                HashAlgorithm::Sha512,
                &key,
                b"hello",
                &sha256
            ));
        }
        assert!(!rsa_pkcs1v15_verify(
            HashAlgorithm::Sha256,
            &b64(EC_SPKI),
            b"hello",
            &[0; 256]
        ));
        assert!(!rsa_pkcs1v15_verify(
            HashAlgorithm::Sha256,
            &[1, 2, 3],
            b"",
            &[]
        ));
    }
}
