//! Native verifiers (`inlet_verify::Verifier`): a fuzzed configuration (hmac with simple or
//! advanced signatures, hex or base64, SHA256 or SHA512; basic_auth; api_key) is compiled,
//! then a request with fuzzed headers and body is verified. It must never panic, and a
//! credential made the way the configuration asks (signed here with the `hmac` crate) must
//! be accepted: within the tolerance for an advanced signature, expired outside it.
#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue};
use inlet_model::verifier::{
    ApiKeyConfig, BasicAuthConfig, HmacConfig, SignatureFormat, VerifierConfig, VerifierType,
};
use inlet_verify::{DEFAULT_TOLERANCE_SECONDS, Verifier, VerifyError};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Config {
    Hmac {
        header: Named,
        hash: Named,
        encoding: Named,
        secret: String,
        secrets: Vec<String>,
        advanced: bool,
        tolerance_seconds: Option<u64>,
    },
    BasicAuth {
        username: String,
        password: String,
    },
    ApiKey {
        header_name: Named,
        header_value: String,
    },
}

/// One of two usual values of a field (hash and encoding names in an unusual case, which is
/// accepted too), or any text.
#[derive(Arbitrary, Debug)]
enum Named {
    First,
    Second,
    Other(String),
}

impl Named {
    fn text(&self, [first, second]: [&str; 2]) -> String {
        match self {
            Named::First => first.to_string(),
            Named::Second => second.to_string(),
            Named::Other(text) => text.clone(),
        }
    }
}

const HMAC_HEADERS: [&str; 2] = ["X-Signature", "x-hub-signature-256"];
const API_KEY_HEADERS: [&str; 2] = ["X-Api-Key", "Authorization"];

#[derive(Arbitrary, Debug)]
struct Header {
    /// The header the configuration reads, or any name.
    credential: bool,
    name: Vec<u8>,
    value: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    config: Config,
    headers: Vec<Header>,
    body: Vec<u8>,
    now: i64,
    /// Also send a correct credential (its timestamp, for an advanced signature).
    signed_at: Option<Timestamp>,
}

#[derive(Arbitrary, Debug)]
enum Timestamp {
    At(i64),
    Near(i16),
}

impl Config {
    fn model(&self) -> VerifierConfig {
        match self {
            Config::Hmac {
                header,
                hash,
                encoding,
                secret,
                secrets,
                advanced,
                tolerance_seconds,
            } => VerifierConfig {
                kind: VerifierType::Hmac,
                hmac: Some(HmacConfig {
                    header: header.text(HMAC_HEADERS),
                    hash: hash.text(["SHA256", "sha512"]),
                    secret: secret.as_str().into(),
                    encoding: encoding.text(["hex", "BASE64"]),
                    secrets: secrets.iter().map(|s| s.as_str().into()).collect(),
                    signature_format: if *advanced {
                        SignatureFormat::Advanced
                    } else {
                        SignatureFormat::Simple
                    },
                    tolerance_seconds: *tolerance_seconds,
                }),
                ..Default::default()
            },
            Config::BasicAuth { username, password } => VerifierConfig {
                kind: VerifierType::BasicAuth,
                basic_auth: Some(BasicAuthConfig {
                    username: username.clone(),
                    password: password.as_str().into(),
                }),
                ..Default::default()
            },
            Config::ApiKey {
                header_name,
                header_value,
            } => VerifierConfig {
                kind: VerifierType::ApiKey,
                api_key: Some(ApiKeyConfig {
                    header_name: header_name.text(API_KEY_HEADERS),
                    header_value: header_value.as_str().into(),
                }),
                ..Default::default()
            },
        }
    }

    /// The header a credential goes in.
    fn header(&self) -> String {
        match self {
            Config::Hmac { header, .. } => header.text(HMAC_HEADERS),
            Config::BasicAuth { .. } => "authorization".to_string(),
            Config::ApiKey { header_name, .. } => header_name.text(API_KEY_HEADERS),
        }
    }
}

/// A correct credential for a configuration that compiled, and what verifying it must
/// give; `None` when the configuration cannot be satisfied by any header value.
fn credential(
    config: &Config,
    body: &[u8],
    now: i64,
    at: &Timestamp,
) -> Option<(String, Result<(), VerifyError>)> {
    match config {
        Config::Hmac {
            hash,
            encoding,
            secret,
            secrets,
            advanced,
            tolerance_seconds,
            ..
        } => {
            // Any active secret signs; the last one exercises rotation.
            let key = std::iter::once(secret)
                .chain(secrets)
                .filter(|s| !s.is_empty())
                .last()?;
            let timestamp = match *at {
                Timestamp::At(t) => t,
                Timestamp::Near(delta) => now.saturating_add(delta.into()),
            };
            let mut content = Vec::new();
            if *advanced {
                content.extend_from_slice(format!("{timestamp},").as_bytes());
            }
            content.extend_from_slice(body);
            let sha512 = hash
                .text(["SHA256", "sha512"])
                .eq_ignore_ascii_case("sha512");
            let mac = if sha512 {
                sign::<Hmac<sha2::Sha512>>(key, &content)
            } else {
                sign::<Hmac<sha2::Sha256>>(key, &content)
            };
            let base64 = encoding
                .text(["hex", "BASE64"])
                .eq_ignore_ascii_case("base64");
            let signature = if base64 {
                BASE64.encode(&mac)
            } else {
                hex::encode(&mac)
            };
            if !*advanced {
                return Some((signature, Ok(())));
            }
            let tolerance = tolerance_seconds.unwrap_or(DEFAULT_TOLERANCE_SECONDS);
            let age = (i128::from(now) - i128::from(timestamp)).unsigned_abs();
            let expected = if age <= u128::from(tolerance) {
                Ok(())
            } else {
                Err(VerifyError::TimestampExpired)
            };
            Some((format!("t={timestamp},v1={signature}"), expected))
        }
        // RFC 7617: a user name with ':' cannot be sent.
        Config::BasicAuth { username, .. } if username.contains(':') => None,
        Config::BasicAuth { username, password } => {
            let encoded = BASE64.encode(format!("{username}:{password}"));
            Some((format!("Basic {encoded}"), Ok(())))
        }
        Config::ApiKey { header_value, .. } => Some((header_value.clone(), Ok(()))),
    }
}

/// The HMAC of `content`, computed with the `hmac` crate rather than the host's code.
fn sign<M: Mac + KeyInit>(key: &str, content: &[u8]) -> Vec<u8> {
    let mut mac = <M as Mac>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    mac.update(content);
    mac.finalize().into_bytes().to_vec()
}

fuzz_target!(|input: Input| {
    let Ok(verifier) = Verifier::compile(&input.config.model()) else {
        return;
    };
    let credential_header = input.config.header();
    let mut headers = HeaderMap::new();
    for header in &input.headers {
        let name = if header.credential {
            credential_header.as_bytes()
        } else {
            &header.name
        };
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name),
            HeaderValue::from_bytes(&header.value),
        ) {
            headers.append(name, value);
        }
    }
    let _ = verifier.verify(&headers, &input.body, input.now);

    let Some(at) = &input.signed_at else { return };
    let Some((value, expected)) = credential(&input.config, &input.body, input.now, at) else {
        return;
    };
    // A configured header name that is not a valid one (say with a space) can never be
    // sent: such a source rejects everything, which is failing closed.
    let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(credential_header.as_bytes()),
        HeaderValue::from_str(&value),
    ) else {
        return;
    };
    headers.insert(name, value);
    assert_eq!(
        verifier.verify(&headers, &input.body, input.now),
        expected,
        "a correct credential; config {:?}",
        input.config
    );
});
