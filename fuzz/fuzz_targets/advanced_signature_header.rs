//! The advanced signature header, `t=<unix>,v1=<sig>[,v1=<sig>…]`. Its parser is private to
//! `inlet-verify`, so it is reached the way a request reaches it: through the `verify` of an
//! HMAC verifier with `signature_format: Advanced`.
//!
//! Input: the first byte picks the verifier (bit 0: base64 rather than hex, bit 1: SHA512
//! rather than SHA256); the rest is the header value. It must never panic, and a header
//! made without the secret is never accepted (nor found merely expired, which would mean
//! its signature matched).
#![no_main]

use std::sync::LazyLock;

use http::{HeaderMap, HeaderValue};
use inlet_model::verifier::{HmacConfig, SignatureFormat, VerifierConfig, VerifierType};
use inlet_verify::{Verifier, VerifyError};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000;
const BODY: &[u8] = br#"{"id":"evt_1"}"#;

/// The four verifiers, by the bits of the first byte.
static VERIFIERS: LazyLock<Vec<Verifier>> = LazyLock::new(|| {
    let mut verifiers = Vec::new();
    for hash in ["SHA256", "SHA512"] {
        for encoding in ["hex", "base64"] {
            let config = VerifierConfig {
                kind: VerifierType::Hmac,
                hmac: Some(HmacConfig {
                    header: "X-Signature".into(),
                    hash: hash.into(),
                    secret: "whsec_fuzz".into(),
                    encoding: encoding.into(),
                    secrets: Vec::new(),
                    signature_format: SignatureFormat::Advanced,
                    tolerance_seconds: None,
                }),
                ..Default::default()
            };
            verifiers.push(Verifier::compile(&config).expect("a valid configuration"));
        }
    }
    verifiers
});

fuzz_target!(|data: &[u8]| {
    let Some((&selector, value)) = data.split_first() else {
        return;
    };
    let Ok(value) = HeaderValue::from_bytes(value) else {
        return;
    };
    let verifier = &VERIFIERS[usize::from(selector & 3)];
    let mut headers = HeaderMap::new();
    headers.insert("x-signature", value);
    let outcome = verifier.verify(&headers, BODY, NOW);
    assert!(
        matches!(
            outcome,
            Err(VerifyError::MissingSignature | VerifyError::InvalidSignature)
        ),
        "{outcome:?}"
    );
});
