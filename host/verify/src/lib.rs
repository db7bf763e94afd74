//! Native verifiers for HTTP sources: `noop`, `hmac`, `basic_auth` and `api_key` (their
//! configuration is `inlet_model::verifier`).
//!
//! A configuration is compiled once into a [`Verifier`] (every field checked and parsed);
//! verification works on the raw body bytes, compares in constant time and fails closed:
//! a configuration that does not compile rejects every request.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;
use inlet_model::verifier::{SignatureFormat, VerifierConfig, VerifierType};
use inlet_model::{FieldError, Secret};
use inlet_sdk::crypto::{HashAlgorithm, constant_time_eq, digest, hmac};

pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;
/// Longest replay window an advanced signature may be given: a day. Beyond it (or at 0)
/// the window would no longer bound replays.
pub const MAX_TOLERANCE_SECONDS: u64 = 86_400;

fn tolerance(configured: Option<u64>) -> Result<u64, FieldError> {
    match configured {
        None => Ok(DEFAULT_TOLERANCE_SECONDS),
        Some(seconds) if (1..=MAX_TOLERANCE_SECONDS).contains(&seconds) => Ok(seconds),
        Some(_) => Err(FieldError::new(
            "verifier.hmac.tolerance_seconds",
            format!(
                "must be from 1 to {MAX_TOLERANCE_SECONDS} (default {DEFAULT_TOLERANCE_SECONDS})"
            ),
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

/// A verifier ready to run: every field checked and parsed.
#[derive(Debug)]
pub enum Verifier {
    Noop,
    Hmac {
        header: String,
        hash: HashAlgorithm,
        encoding: Encoding,
        secrets: Vec<Secret>,
        format: SignatureFormat,
        tolerance_seconds: u64,
    },
    BasicAuth {
        username: String,
        password: Secret,
    },
    ApiKey {
        header: http::HeaderName,
        value: Secret,
    },
}

/// Why a request failed verification. Deliberately general: never says what was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    MissingSignature,
    InvalidSignature,
    TimestampExpired,
    MissingCredentials,
    InvalidCredentials,
    Misconfigured,
}

impl VerifyError {
    pub fn code(self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::InvalidSignature => "invalid_signature",
            Self::TimestampExpired => "timestamp_expired",
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Misconfigured => "verifier_misconfigured",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::MissingSignature => "the request carries no signature header",
            Self::InvalidSignature => "the request signature does not match",
            Self::TimestampExpired => "the signature timestamp is outside the allowed window",
            Self::MissingCredentials => "the request carries no credentials",
            Self::InvalidCredentials => "the request credentials do not match",
            Self::Misconfigured => {
                "the source's verifier is misconfigured; its operator must fix it"
            }
        }
    }
}

impl Verifier {
    /// Checks a configuration and returns the verifier it describes.
    pub fn compile(config: &VerifierConfig) -> Result<Verifier, FieldError> {
        match config.kind {
            VerifierType::Noop => {
                // A block of settings beside `noop` means the sender meant another type:
                // refused rather than accepting every request.
                if config.hmac.is_some() || config.basic_auth.is_some() || config.api_key.is_some()
                {
                    return Err(FieldError::new(
                        "verifier.type",
                        "is noop, which takes no hmac, basic_auth or api_key settings; \
                         set type to the verifier those settings are for",
                    ));
                }
                Ok(Verifier::Noop)
            }
            VerifierType::Hmac => {
                let c = config
                    .hmac
                    .as_ref()
                    .ok_or_else(|| FieldError::new("verifier.hmac", "required for type hmac"))?;
                if c.header.trim().is_empty() {
                    return Err(FieldError::new("verifier.hmac.header", "must not be empty"));
                }
                let hash = match c.hash.to_ascii_uppercase().as_str() {
                    "SHA256" => HashAlgorithm::Sha256,
                    "SHA512" => HashAlgorithm::Sha512,
                    _ => {
                        return Err(FieldError::new(
                            "verifier.hmac.hash",
                            "must be SHA256 or SHA512",
                        ));
                    }
                };
                let encoding = match c.encoding.to_ascii_lowercase().as_str() {
                    "hex" => Encoding::Hex,
                    "base64" => Encoding::Base64,
                    _ => {
                        return Err(FieldError::new(
                            "verifier.hmac.encoding",
                            "must be hex or base64",
                        ));
                    }
                };
                if c.secrets.iter().any(|s| s.secret().is_empty()) {
                    return Err(FieldError::new(
                        "verifier.hmac.secrets",
                        "must not contain an empty secret",
                    ));
                }
                let secrets: Vec<Secret> = config.hmac_secrets().cloned().collect();
                if secrets.is_empty() {
                    return Err(FieldError::new("verifier.hmac.secret", "must not be empty"));
                }
                Ok(Verifier::Hmac {
                    header: c.header.clone(),
                    hash,
                    encoding,
                    secrets,
                    format: c.signature_format,
                    tolerance_seconds: tolerance(c.tolerance_seconds)?,
                })
            }
            VerifierType::BasicAuth => {
                let c = config.basic_auth.as_ref().ok_or_else(|| {
                    FieldError::new("verifier.basic_auth", "required for type basic_auth")
                })?;
                if c.username.is_empty() {
                    return Err(FieldError::new(
                        "verifier.basic_auth.username",
                        "must not be empty",
                    ));
                }
                if c.password.is_empty() {
                    return Err(FieldError::new(
                        "verifier.basic_auth.password",
                        "must not be empty",
                    ));
                }
                Ok(Verifier::BasicAuth {
                    username: c.username.clone(),
                    password: c.password.clone(),
                })
            }
            VerifierType::ApiKey => {
                let c = config.api_key.as_ref().ok_or_else(|| {
                    FieldError::new("verifier.api_key", "required for type api_key")
                })?;
                let Ok(header) = http::HeaderName::from_bytes(c.header_name.as_bytes()) else {
                    return Err(FieldError::new(
                        "verifier.api_key.header_name",
                        "must be a valid HTTP header name",
                    ));
                };
                if c.header_value.is_empty() {
                    return Err(FieldError::new(
                        "verifier.api_key.header_value",
                        "must not be empty",
                    ));
                }
                Ok(Verifier::ApiKey {
                    header,
                    value: c.header_value.clone(),
                })
            }
        }
    }
}

impl Verifier {
    /// Verifies a request. `now` is the receive time in Unix seconds.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
        match self {
            Verifier::Noop => Ok(()),
            Verifier::Hmac {
                header,
                hash,
                encoding,
                secrets,
                format,
                tolerance_seconds,
            } => {
                let value = header_str(headers, header).ok_or(VerifyError::MissingSignature)?;
                match format {
                    SignatureFormat::Simple => {
                        let signature = decode(*encoding, value.trim())?;
                        check_hmac(*hash, secrets, body, &[signature])
                    }
                    SignatureFormat::Advanced => {
                        let header = parse_advanced(value, *encoding)?;
                        let mut signed = format!("{},", header.signed_timestamp).into_bytes();
                        signed.extend_from_slice(body);
                        check_hmac(*hash, secrets, &signed, &header.signatures)?;
                        if now.abs_diff(header.timestamp) > *tolerance_seconds {
                            return Err(VerifyError::TimestampExpired);
                        }
                        Ok(())
                    }
                }
            }
            Verifier::BasicAuth { username, password } => {
                let value =
                    header_str(headers, "authorization").ok_or(VerifyError::MissingCredentials)?;
                let (scheme, encoded) = value
                    .trim()
                    .split_once(' ')
                    .ok_or(VerifyError::InvalidCredentials)?;
                if !scheme.eq_ignore_ascii_case("basic") {
                    return Err(VerifyError::MissingCredentials);
                }
                let decoded = BASE64
                    .decode(encoded.trim())
                    .map_err(|_| VerifyError::InvalidCredentials)?;
                // The user name cannot hold ':' (RFC 7617); the password may.
                let colon = decoded
                    .iter()
                    .position(|&b| b == b':')
                    .ok_or(VerifyError::InvalidCredentials)?;
                let user_ok = secret_eq(&decoded[..colon], username.as_bytes());
                let password_ok = secret_eq(&decoded[colon + 1..], password.expose().as_bytes());
                if user_ok & password_ok {
                    Ok(())
                } else {
                    Err(VerifyError::InvalidCredentials)
                }
            }
            Verifier::ApiKey { header, value } => {
                let provided = headers.get(header).ok_or(VerifyError::MissingCredentials)?;
                if secret_eq(provided.as_bytes(), value.expose().as_bytes()) {
                    Ok(())
                } else {
                    Err(VerifyError::InvalidCredentials)
                }
            }
        }
    }
}

/// Compares two secrets in constant time. Both sides are hashed first so that neither the
/// content nor the length of the expected value leaks through timing.
pub fn secret_eq(provided: &[u8], expected: &[u8]) -> bool {
    let sha256 = |bytes| digest(HashAlgorithm::Sha256, bytes);
    constant_time_eq(&sha256(provided), &sha256(expected))
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn decode(encoding: Encoding, text: &str) -> Result<Vec<u8>, VerifyError> {
    match encoding {
        Encoding::Hex => hex::decode(text).map_err(|_| VerifyError::InvalidSignature),
        Encoding::Base64 => BASE64
            .decode(text)
            .map_err(|_| VerifyError::InvalidSignature),
    }
}

/// An advanced signature header, `t=<unix>,v1=<sig>[,v1=<sig>…]`.
struct Advanced<'h> {
    /// The timestamp as sent: what the sender signed.
    signed_timestamp: &'h str,
    timestamp: i64,
    /// Every `v1` that decodes; one that does not cannot match and is passed over, so a
    /// sender may list signatures for several secrets in any form.
    signatures: Vec<Vec<u8>>,
}

fn parse_advanced(value: &str, encoding: Encoding) -> Result<Advanced<'_>, VerifyError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    let mut any_v1 = false;
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => {
                let parsed = t.parse().map_err(|_| VerifyError::InvalidSignature)?;
                timestamp = Some((t, parsed));
            }
            Some(("v1", sig)) => {
                any_v1 = true;
                signatures.extend(decode(encoding, sig).ok());
            }
            _ => {}
        }
    }
    match (timestamp, any_v1) {
        (Some(_), true) if signatures.is_empty() => Err(VerifyError::InvalidSignature),
        (Some((signed_timestamp, timestamp)), true) => Ok(Advanced {
            signed_timestamp,
            timestamp,
            signatures,
        }),
        _ => Err(VerifyError::MissingSignature),
    }
}

/// Whether any secret signs `content` to any of `signatures`, each comparison in constant
/// time.
fn check_hmac(
    hash: HashAlgorithm,
    secrets: &[Secret],
    content: &[u8],
    signatures: &[Vec<u8>],
) -> Result<(), VerifyError> {
    let mut any = false;
    for secret in secrets {
        let expected = hmac(hash, secret.expose().as_bytes(), content);
        for signature in signatures {
            any |= constant_time_eq(&expected, signature);
        }
    }
    if any {
        Ok(())
    } else {
        Err(VerifyError::InvalidSignature)
    }
}

#[cfg(test)]
mod tests {
    use inlet_model::verifier::{BasicAuthConfig, HmacConfig};

    use super::*;

    fn hmac_config(format: SignatureFormat) -> VerifierConfig {
        VerifierConfig {
            kind: VerifierType::Hmac,
            hmac: Some(HmacConfig {
                header: "X-Sig".into(),
                hash: "SHA256".into(),
                secret: "old".into(),
                encoding: "hex".into(),
                secrets: vec!["new".into()],
                signature_format: format,
                tolerance_seconds: Some(60),
            }),
            ..Default::default()
        }
    }

    fn sign(secret: &str, content: &[u8]) -> String {
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(content);
        hex::encode(mac.finalize().into_bytes())
    }

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, value.parse().unwrap());
        h
    }

    #[test]
    fn simple_hmac_accepts_any_active_secret() {
        let config = hmac_config(SignatureFormat::Simple);
        let v = Verifier::compile(&config).unwrap();
        for secret in ["old", "new"] {
            let h = headers("x-sig", &sign(secret, b"body"));
            assert_eq!(v.verify(&h, b"body", 0), Ok(()));
        }
        let h = headers("x-sig", &sign("other", b"body"));
        assert_eq!(v.verify(&h, b"body", 0), Err(VerifyError::InvalidSignature));
        assert_eq!(
            v.verify(&HeaderMap::new(), b"body", 0),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn advanced_hmac_signs_timestamp_and_enforces_tolerance() {
        let config = hmac_config(SignatureFormat::Advanced);
        let v = Verifier::compile(&config).unwrap();
        let value = format!("t=1000,v1=deadbeef,v1={}", sign("new", b"1000,body"));
        let h = headers("x-sig", &value);
        assert_eq!(v.verify(&h, b"body", 1030), Ok(()));
        assert_eq!(
            v.verify(&h, b"body", 1061),
            Err(VerifyError::TimestampExpired)
        );
        assert_eq!(
            v.verify(&h, b"tampered", 1000),
            Err(VerifyError::InvalidSignature)
        );
        let h = headers("x-sig", "v1=abcd");
        assert_eq!(
            v.verify(&h, b"body", 1000),
            Err(VerifyError::MissingSignature)
        );
    }

    #[test]
    fn any_valid_v1_counts_and_the_timestamp_is_signed_as_sent() {
        let config = hmac_config(SignatureFormat::Advanced);
        let v = Verifier::compile(&config).unwrap();
        // An undecodable v1 before the valid one does not hide it.
        let value = format!("t=1000,v1=not-hex!,v1={}", sign("new", b"1000,body"));
        assert_eq!(v.verify(&headers("x-sig", &value), b"body", 1000), Ok(()));
        let value = "t=1000,v1=zz,v1=%%";
        assert_eq!(
            v.verify(&headers("x-sig", value), b"body", 1000),
            Err(VerifyError::InvalidSignature)
        );
        // A sender that wrote the timestamp with a leading zero signed those characters.
        let value = format!("t=01000,v1={}", sign("new", b"01000,body"));
        assert_eq!(v.verify(&headers("x-sig", &value), b"body", 1000), Ok(()));
    }

    #[test]
    fn the_replay_window_is_bounded() {
        for bad in [0, MAX_TOLERANCE_SECONDS + 1, u64::MAX] {
            let mut config = hmac_config(SignatureFormat::Advanced);
            config.hmac.as_mut().unwrap().tolerance_seconds = Some(bad);
            assert_eq!(
                Verifier::compile(&config).unwrap_err().field,
                "verifier.hmac.tolerance_seconds"
            );
        }
    }

    #[test]
    fn noop_with_settings_of_another_type_is_refused() {
        let mut config = hmac_config(SignatureFormat::Simple);
        config.kind = VerifierType::Noop;
        assert_eq!(
            Verifier::compile(&config).unwrap_err().field,
            "verifier.type"
        );
    }

    #[test]
    fn compile_names_the_bad_field() {
        let mut config = hmac_config(SignatureFormat::Simple);
        config.hmac.as_mut().unwrap().hash = "MD5".into();
        assert_eq!(
            Verifier::compile(&config).unwrap_err().field,
            "verifier.hmac.hash"
        );
        let config = VerifierConfig {
            kind: VerifierType::BasicAuth,
            ..Default::default()
        };
        assert_eq!(
            Verifier::compile(&config).unwrap_err().field,
            "verifier.basic_auth"
        );
    }

    #[test]
    fn basic_auth_password_may_contain_colons() {
        let config = VerifierConfig {
            kind: VerifierType::BasicAuth,
            basic_auth: Some(BasicAuthConfig {
                username: "user".into(),
                password: "pa:ss:word".into(),
            }),
            ..Default::default()
        };
        let v = Verifier::compile(&config).unwrap();
        let good = format!("Basic {}", BASE64.encode("user:pa:ss:word"));
        assert_eq!(v.verify(&headers("authorization", &good), b"", 0), Ok(()));
        let bad = format!("Basic {}", BASE64.encode("user:pa:ss"));
        assert_eq!(
            v.verify(&headers("authorization", &bad), b"", 0),
            Err(VerifyError::InvalidCredentials)
        );
    }

    #[test]
    fn secret_eq_matches_only_identical_values() {
        assert!(secret_eq(b"s3cret", b"s3cret"));
        assert!(!secret_eq(b"s3cret", b"s3cres"));
        assert!(!secret_eq(b"s3cret", b"s3cret "));
        assert!(!secret_eq(b"", b"x"));
    }
}
