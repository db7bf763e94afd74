//! The signature headers of an outgoing delivery request, as pure functions of the endpoint's
//! live secrets, the attempt's timestamp and the body bytes.
//!
//! Three forms, chosen per endpoint ([`SignatureForm`]):
//! - Convoy simple: `X-Convoy-Signature: enc(HMAC(newest secret, body))`;
//! - Convoy advanced: `X-Convoy-Signature: t=<unix>,v1=<sig>[,v1=<sig>…]`, one `v1` per live
//!   secret, each over `"<unix>,<body>"` (a comma, not Stripe's dot);
//! - [Standard Webhooks](https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp`
//!   and `webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<unix>.<body>")>`, one
//!   space-separated entry per live secret.
//!
//! **Difference from Convoy:** Convoy signs its own compact re-encoding of a JSON payload
//! (Go's `json.Encoder`), which need not be the bytes it sends. Inlet signs exactly the bytes
//! it sends, the body as it was stored: a receiver verifies the raw body it received, and
//! bodies that are not JSON (or not UTF-8) are signed too. For a body that is already
//! compact JSON, both give the same signature.
//!
//! A [`Signer`] is built once from the endpoint's configuration (every secret checked, so bad
//! configuration is refused when it is written, see [`validate_secret`]); signing a request
//! then cannot fail on the secrets.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use http::{HeaderName, HeaderValue};
use inlet_model::{FieldError, Secret};
use sha2::{Sha256, Sha512};

/// Convoy's signature header (its project `config.signature.header` default).
pub const DEFAULT_CONVOY_HEADER: HeaderName = HeaderName::from_static("x-convoy-signature");
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

/// Most secrets an endpoint signs with at once (rotation needs two; the bound keeps the
/// header and the work per request small).
pub const MAX_LIVE_SECRETS: usize = 10;
/// Longest Convoy secret accepted, in bytes.
pub const MAX_CONVOY_SECRET_BYTES: usize = 1024;
/// Bounds of a Standard Webhooks key, in decoded bytes: the spec asks for at least 24 bytes
/// (192 bits) and at most 512 bits.
pub const STANDARD_WEBHOOKS_KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
/// Prefix of a serialized Standard Webhooks secret.
pub const WHSEC_PREFIX: &str = "whsec_";
/// Longest delivery id accepted as `webhook-id`.
pub const MAX_DELIVERY_ID_BYTES: usize = 256;

/// HMAC hash of the Convoy forms (project `config.signature.versions[].hash`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    /// Convoy's spelling, `SHA256` or `SHA512` (in any case).
    pub fn parse(text: &str, field: &str) -> Result<Self, FieldError> {
        match text.to_ascii_uppercase().as_str() {
            "SHA256" => Ok(Self::Sha256),
            "SHA512" => Ok(Self::Sha512),
            _ => Err(FieldError::new(field, "must be SHA256 or SHA512")),
        }
    }
}

/// How a Convoy-form signature is written (project `config.signature.versions[].encoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    /// Standard alphabet, padded.
    Base64,
}

impl Encoding {
    /// Convoy's spelling, `hex` or `base64` (in any case).
    pub fn parse(text: &str, field: &str) -> Result<Self, FieldError> {
        match text.to_ascii_lowercase().as_str() {
            "hex" => Ok(Self::Hex),
            "base64" => Ok(Self::Base64),
            _ => Err(FieldError::new(field, "must be hex or base64")),
        }
    }

    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Self::Hex => hex::encode(bytes),
            Self::Base64 => BASE64.encode(bytes),
        }
    }
}

/// The project's signature settings for the Convoy forms. The default is Convoy's:
/// `X-Convoy-Signature`, SHA256, hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvoyScheme {
    pub header: HeaderName,
    pub hash: Hash,
    pub encoding: Encoding,
}

impl Default for ConvoyScheme {
    fn default() -> Self {
        Self {
            header: DEFAULT_CONVOY_HEADER,
            hash: Hash::Sha256,
            encoding: Encoding::Hex,
        }
    }
}

impl ConvoyScheme {
    /// A configured header name (project `config.signature.header`).
    pub fn parse_header(text: &str, field: &str) -> Result<HeaderName, FieldError> {
        HeaderName::from_bytes(text.trim().as_bytes())
            .map_err(|_| FieldError::new(field, "must be a valid HTTP header name"))
    }
}

/// How an endpoint's requests are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureForm {
    /// Convoy with `advanced_signatures: false`: the newest secret only, no timestamp.
    ConvoySimple(ConvoyScheme),
    /// Convoy with `advanced_signatures: true` (its default for new endpoints).
    ConvoyAdvanced(ConvoyScheme),
    /// Standard Webhooks, symmetric (`v1`, HMAC-SHA256, base64), with `whsec_` secrets.
    StandardWebhooks,
}

impl SignatureForm {
    fn is_standard_webhooks(&self) -> bool {
        matches!(self, Self::StandardWebhooks)
    }
}

/// Checks one secret for a form, when it is configured: a Convoy secret is any non-empty
/// string of at most [`MAX_CONVOY_SECRET_BYTES`]; a Standard Webhooks secret is
/// `whsec_<base64>` whose decoded key has [`STANDARD_WEBHOOKS_KEY_BYTES`].
///
/// A Standard Webhooks secret without the `whsec_` prefix is read as the base64 of the key,
/// as the spec's own libraries read it: the spec defines the key as base64 of random bytes
/// and the prefix only as a label, so a receiver given either spelling verifies.
pub fn validate_secret(
    form: &SignatureForm,
    secret: &Secret,
    field: &str,
) -> Result<(), FieldError> {
    signing_key(form, secret, field).map(drop)
}

/// The HMAC key a secret stands for. Error messages never repeat the secret.
fn signing_key(form: &SignatureForm, secret: &Secret, field: &str) -> Result<Vec<u8>, FieldError> {
    let text = secret.expose();
    if text.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if !form.is_standard_webhooks() {
        if text.len() > MAX_CONVOY_SECRET_BYTES {
            return Err(FieldError::new(
                field,
                format!("must be at most {MAX_CONVOY_SECRET_BYTES} bytes"),
            ));
        }
        return Ok(text.as_bytes().to_vec());
    }
    let encoded = text.strip_prefix(WHSEC_PREFIX).unwrap_or(text);
    // Checked before decoding so that a huge value costs nothing.
    let longest = STANDARD_WEBHOOKS_KEY_BYTES.end().div_ceil(3) * 4;
    let key = (encoded.len() <= longest)
        .then(|| BASE64.decode(encoded).ok())
        .flatten()
        .filter(|key| STANDARD_WEBHOOKS_KEY_BYTES.contains(&key.len()));
    key.ok_or_else(|| {
        FieldError::new(
            field,
            format!(
                "must be {WHSEC_PREFIX} followed by the standard base64 of {} to {} random bytes",
                STANDARD_WEBHOOKS_KEY_BYTES.start(),
                STANDARD_WEBHOOKS_KEY_BYTES.end()
            ),
        )
    })
}

/// A new random secret for an endpoint created without one: for the Convoy forms 64 hex
/// characters (32 random bytes); for Standard Webhooks `whsec_` + base64 of 32 random bytes.
pub fn generate_secret(form: &SignatureForm) -> Secret {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    Secret::new(if form.is_standard_webhooks() {
        format!("{WHSEC_PREFIX}{}", BASE64.encode(bytes))
    } else {
        hex::encode(bytes)
    })
}

/// Signs an endpoint's requests: its form and the keys of its live secrets.
pub struct Signer {
    form: SignatureForm,
    /// Oldest first; never empty.
    keys: Vec<Vec<u8>>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("form", &self.form)
            .field("keys", &self.keys.len())
            .finish()
    }
}

/// The delivery id cannot be sent as `webhook-id`: it must be 1 to
/// [`MAX_DELIVERY_ID_BYTES`] visible ASCII characters without `.` (the spec forbids the
/// separator of the signed content in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidDeliveryId;

impl fmt::Display for InvalidDeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a delivery id must be 1 to {MAX_DELIVERY_ID_BYTES} visible ASCII characters without '.'"
        )
    }
}

impl std::error::Error for InvalidDeliveryId {}

impl Signer {
    /// `live_secrets` are the endpoint's unexpired secrets, oldest first (the simple form
    /// signs with the last one). Errors name `field` or `field[i]`.
    pub fn new(
        form: SignatureForm,
        live_secrets: &[Secret],
        field: &str,
    ) -> Result<Self, FieldError> {
        if live_secrets.is_empty() {
            return Err(FieldError::new(
                field,
                "needs at least one live secret to sign with",
            ));
        }
        if live_secrets.len() > MAX_LIVE_SECRETS {
            return Err(FieldError::new(
                field,
                format!("may hold at most {MAX_LIVE_SECRETS} live secrets"),
            ));
        }
        let keys = live_secrets
            .iter()
            .enumerate()
            .map(|(i, secret)| signing_key(&form, secret, &format!("{field}[{i}]")))
            .collect::<Result<_, _>>()?;
        Ok(Self { form, keys })
    }

    /// The headers that sign one attempt. `delivery_id` is the delivery's id, stable across
    /// its retries: it is `webhook-id` in the Standard Webhooks form (its idempotency key)
    /// and checked in every form, so a bad id fails the same way whatever the form.
    /// `timestamp` is the attempt's time in unix seconds; `body` the exact bytes sent.
    pub fn headers(
        &self,
        delivery_id: &str,
        timestamp: u64,
        body: &[u8],
    ) -> Result<Vec<(HeaderName, HeaderValue)>, InvalidDeliveryId> {
        let id = webhook_id(delivery_id)?;
        let t = timestamp.to_string();
        Ok(match &self.form {
            SignatureForm::ConvoySimple(scheme) => {
                // The newest secret only: a slice of the last key (never empty).
                let newest = &self.keys[self.keys.len().saturating_sub(1)..];
                let signature: String = newest
                    .iter()
                    .map(|key| scheme.encoding.encode(&hmac(scheme.hash, key, &[body])))
                    .collect();
                vec![(scheme.header.clone(), ascii_value(signature))]
            }
            SignatureForm::ConvoyAdvanced(scheme) => {
                let mut value = format!("t={t}");
                for key in &self.keys {
                    let mac = hmac(scheme.hash, key, &[t.as_bytes(), b",", body]);
                    value.push_str(",v1=");
                    value.push_str(&scheme.encoding.encode(&mac));
                }
                vec![(scheme.header.clone(), ascii_value(value))]
            }
            SignatureForm::StandardWebhooks => {
                let signed = [id.as_bytes(), b".", t.as_bytes(), b".", body];
                let signatures: Vec<String> = self
                    .keys
                    .iter()
                    .map(|key| format!("v1,{}", BASE64.encode(hmac(Hash::Sha256, key, &signed))))
                    .collect();
                vec![
                    (WEBHOOK_ID, id),
                    (WEBHOOK_TIMESTAMP, ascii_value(t)),
                    (WEBHOOK_SIGNATURE, ascii_value(signatures.join(" "))),
                ]
            }
        })
    }
}

fn webhook_id(delivery_id: &str) -> Result<HeaderValue, InvalidDeliveryId> {
    let acceptable = (1..=MAX_DELIVERY_ID_BYTES).contains(&delivery_id.len())
        && delivery_id
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'.');
    if !acceptable {
        return Err(InvalidDeliveryId);
    }
    HeaderValue::from_str(delivery_id).map_err(|_| InvalidDeliveryId)
}

/// A header value made of digits, hex, base64 and the separators `t=,v1 ` only.
fn ascii_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text)
        .expect("digits, hex, base64 and separators form a valid header value")
}

/// HMAC of the concatenation of `parts`, without copying the body.
fn hmac(hash: Hash, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = <M as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }
    match hash {
        Hash::Sha256 => run::<Hmac<Sha256>>(key, parts),
        Hash::Sha512 => run::<Hmac<Sha512>>(key, parts),
    }
}

#[cfg(test)]
mod tests {
    //! Every expected header is computed here with the `hmac` crate directly and formatted by
    //! hand, or taken from published vectors, never from the module's own helpers.

    use super::*;

    fn mac256(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn mac512(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = Hmac::<Sha512>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn secrets(values: &[&str]) -> Vec<Secret> {
        values.iter().map(|v| Secret::new(*v)).collect()
    }

    fn sign(
        form: SignatureForm,
        secret_values: &[&str],
        id: &str,
        t: u64,
        body: &[u8],
    ) -> Vec<(String, String)> {
        Signer::new(form, &secrets(secret_values), "secrets")
            .unwrap()
            .headers(id, t, body)
            .unwrap()
            .into_iter()
            .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
            .collect()
    }

    fn scheme(hash: Hash, encoding: Encoding) -> ConvoyScheme {
        ConvoyScheme {
            hash,
            encoding,
            ..ConvoyScheme::default()
        }
    }

    fn header(name: &str, value: impl Into<String>) -> Vec<(String, String)> {
        vec![(name.to_string(), value.into())]
    }

    /// Convoy's published vectors (frain-dev/convoy `pkg/signature/testdata/signature-vectors.json`,
    /// the valid ones). Their payload is already compact JSON, so Convoy's re-encoding does not
    /// change it and Inlet's byte-exact signature must equal Convoy's.
    #[test]
    fn convoy_published_vectors() {
        let payload = br#"{"event":"charge.success","amount":1000,"currency":"NGN"}"#;
        let secret = "convoy-webhook-secret";
        let t = 1_700_000_000;
        let vectors = [
            (
                false,
                Hash::Sha256,
                Encoding::Hex,
                "244449b7f48cbc2709060c9dcdc2b3aa47a78f540430579015c579fb12defbb4",
            ),
            (
                false,
                Hash::Sha256,
                Encoding::Base64,
                "JERJt/SMvCcJBgydzcKzqkenj1QEMFeQFcV5+xLe+7Q=",
            ),
            (
                false,
                Hash::Sha512,
                Encoding::Hex,
                "6cc772dc81942ae1b5ffa91c3a6a07b0d37edc8dc6bd83e3518a219f1f19ff71ae1b76d6b320940d414c236a1aad7f7930b63e0f1928951955d31219545e1b66",
            ),
            (
                false,
                Hash::Sha512,
                Encoding::Base64,
                "bMdy3IGUKuG1/6kcOmoHsNN+3I3GvYPjUYohnx8Z/3GuG3bWsyCUDUFMI2oarX95MLY+DxkolRlV0xIZVF4bZg==",
            ),
            (
                true,
                Hash::Sha256,
                Encoding::Hex,
                "t=1700000000,v1=77b8b9269f25a199846a55a2bd25b3fba151c70fdae60bb1dcd87fbbc943c55c",
            ),
            (
                true,
                Hash::Sha256,
                Encoding::Base64,
                "t=1700000000,v1=d7i5Jp8loZmEalWivSWz+6FRxw/a5gux3Nh/u8lDxVw=",
            ),
            (
                true,
                Hash::Sha512,
                Encoding::Hex,
                "t=1700000000,v1=b2122e252cd2582cf225cb2b8d4ceede9e34329e2fe95c02619c3ed5d4a3d9a73e6beaf2dff8e76d71a693ae198cee40685eed12ad4ee2e033dc2d0399ede057",
            ),
            (
                true,
                Hash::Sha512,
                Encoding::Base64,
                "t=1700000000,v1=shIuJSzSWCzyJcsrjUzu3p40Mp4v6VwCYZw+1dSj2ac+a+ry3/jnbXGmk64ZjO5AaF7tEq1O4uAz3C0Dme3gVw==",
            ),
        ];
        for (advanced, hash, encoding, expected) in vectors {
            let form = if advanced {
                SignatureForm::ConvoyAdvanced(scheme(hash, encoding))
            } else {
                SignatureForm::ConvoySimple(scheme(hash, encoding))
            };
            assert_eq!(
                sign(form, &[secret], "d1", t, payload),
                header("x-convoy-signature", expected),
                "{advanced} {hash:?} {encoding:?}"
            );
        }
    }

    #[test]
    fn convoy_simple_signs_the_body_with_the_newest_secret_only() {
        let body = b"{\"id\":1}";
        let form = SignatureForm::ConvoySimple(ConvoyScheme::default());
        let expected = hex::encode(mac256(b"new", body));
        assert_eq!(
            sign(form, &["old", "new"], "d1", 5, body),
            header("x-convoy-signature", expected)
        );
    }

    #[test]
    fn convoy_advanced_rotation_carries_one_v1_per_live_secret_in_order() {
        let body = b"{\"id\":1}";
        let t = 1_700_000_123u64;
        let signed = concat(&[b"1700000123,", body]);
        let expected = format!(
            "t=1700000123,v1={},v1={}",
            hex::encode(mac256(b"old", &signed)),
            hex::encode(mac256(b"new", &signed))
        );
        let form = SignatureForm::ConvoyAdvanced(ConvoyScheme::default());
        assert_eq!(
            sign(form, &["old", "new"], "d1", t, body),
            header("x-convoy-signature", expected)
        );
    }

    #[test]
    fn convoy_advanced_sha512_base64_with_rotation_and_a_custom_header() {
        let body = b"plain text, not JSON";
        let signed = concat(&[b"42,", body]);
        let expected = format!(
            "t=42,v1={},v1={}",
            BASE64.encode(mac512(b"first", &signed)),
            BASE64.encode(mac512(b"second", &signed))
        );
        let form = SignatureForm::ConvoyAdvanced(ConvoyScheme {
            header: ConvoyScheme::parse_header("X-Acme-Signature", "config.signature.header")
                .unwrap(),
            hash: Hash::Sha512,
            encoding: Encoding::Base64,
        });
        assert_eq!(
            sign(form, &["first", "second"], "d1", 42, body),
            header("x-acme-signature", expected)
        );
    }

    #[test]
    fn the_stored_bytes_are_signed_as_they_are_not_re_encoded() {
        // Spaced JSON: Convoy would sign its compact form; Inlet signs what it sends.
        let body = br#"{ "amount" : 1000 }"#;
        let form = SignatureForm::ConvoySimple(ConvoyScheme::default());
        let got = sign(form, &["s"], "d1", 1, body);
        assert_eq!(
            got,
            header("x-convoy-signature", hex::encode(mac256(b"s", body)))
        );
        assert_ne!(got[0].1, hex::encode(mac256(b"s", br#"{"amount":1000}"#)));
    }

    /// The vector of the spec's Rust library (standard-webhooks `libraries/rust/src/lib.rs`,
    /// `test_sign`).
    #[test]
    fn standard_webhooks_published_vector() {
        let got = sign(
            SignatureForm::StandardWebhooks,
            &["whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"],
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        );
        assert_eq!(
            got,
            vec![
                (
                    "webhook-id".to_string(),
                    "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk".to_string()
                ),
                ("webhook-timestamp".to_string(), "1649367553".to_string()),
                (
                    "webhook-signature".to_string(),
                    "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=".to_string()
                ),
            ]
        );
    }

    #[test]
    fn standard_webhooks_rotation_space_separates_one_signature_per_secret() {
        let (old_key, new_key) = ([7u8; 24], [9u8; 32]);
        let old = format!("whsec_{}", BASE64.encode(old_key));
        let new = format!("whsec_{}", BASE64.encode(new_key));
        let body = b"{\"type\":\"invoice.paid\"}";
        let signed = concat(&[b"01JDELIVERY.1700000000.", body]);
        let expected = format!(
            "v1,{} v1,{}",
            BASE64.encode(mac256(&old_key, &signed)),
            BASE64.encode(mac256(&new_key, &signed))
        );
        let got = sign(
            SignatureForm::StandardWebhooks,
            &[&old, &new],
            "01JDELIVERY",
            1_700_000_000,
            body,
        );
        assert_eq!(got[2], ("webhook-signature".to_string(), expected));
        assert_eq!(got[0].1, "01JDELIVERY");
        assert_eq!(got[1].1, "1700000000");
    }

    #[test]
    fn a_standard_webhooks_secret_without_prefix_is_the_base64_of_the_key() {
        let key = [3u8; 24];
        let body = b"x";
        let bare = BASE64.encode(key);
        let prefixed = format!("whsec_{bare}");
        let expected = format!("v1,{}", BASE64.encode(mac256(&key, b"d.1.x")));
        for secret in [bare.as_str(), prefixed.as_str()] {
            assert_eq!(
                sign(SignatureForm::StandardWebhooks, &[secret], "d", 1, body)[2].1,
                expected
            );
        }
    }

    #[test]
    fn bodies_that_are_not_utf8_are_signed_byte_exact() {
        let body: &[u8] = &[0xff, 0x00, 0xfe, b'{', 0x80];
        let simple = sign(
            SignatureForm::ConvoySimple(ConvoyScheme::default()),
            &["s"],
            "d",
            9,
            body,
        );
        assert_eq!(simple[0].1, hex::encode(mac256(b"s", body)));

        let advanced = sign(
            SignatureForm::ConvoyAdvanced(ConvoyScheme::default()),
            &["s"],
            "d",
            9,
            body,
        );
        assert_eq!(
            advanced[0].1,
            format!(
                "t=9,v1={}",
                hex::encode(mac256(b"s", &concat(&[b"9,", body])))
            )
        );

        let key = [5u8; 32];
        let standard = sign(
            SignatureForm::StandardWebhooks,
            &[&format!("whsec_{}", BASE64.encode(key))],
            "d",
            9,
            body,
        );
        assert_eq!(
            standard[2].1,
            format!(
                "v1,{}",
                BASE64.encode(mac256(&key, &concat(&[b"d.9.", body])))
            )
        );
    }

    #[test]
    fn bad_secrets_are_refused_naming_the_field_and_never_echoed() {
        let standard = SignatureForm::StandardWebhooks;
        let convoy = SignatureForm::ConvoyAdvanced(ConvoyScheme::default());
        let short = format!("whsec_{}", BASE64.encode([1u8; 23]));
        let long = format!("whsec_{}", BASE64.encode([1u8; 65]));
        let huge = format!("whsec_{}", "A".repeat(1 << 20));
        for bad in [
            "whsec_not*base64!",
            "whsec_",
            "whsec_QUJD",
            &short,
            &long,
            &huge,
            "c2VjcmV0=",
        ] {
            let err = validate_secret(&standard, &Secret::new(bad), "secret").unwrap_err();
            assert_eq!(err.field, "secret", "{bad}");
            let encoded = bad.trim_start_matches("whsec_");
            assert!(
                encoded.is_empty() || !err.message.contains(encoded),
                "{}",
                err.message
            );
        }
        for fits in [
            format!("whsec_{}", BASE64.encode([1u8; 24])),
            format!("whsec_{}", BASE64.encode([1u8; 64])),
        ] {
            validate_secret(&standard, &Secret::new(fits), "secret").unwrap();
        }
        assert_eq!(
            validate_secret(&convoy, &Secret::new(""), "secret")
                .unwrap_err()
                .field,
            "secret"
        );
        let too_long = "s".repeat(MAX_CONVOY_SECRET_BYTES + 1);
        assert_eq!(
            validate_secret(&convoy, &Secret::new(too_long), "secret")
                .unwrap_err()
                .field,
            "secret"
        );
        validate_secret(
            &convoy,
            &Secret::new("s".repeat(MAX_CONVOY_SECRET_BYTES)),
            "secret",
        )
        .unwrap();
        // Any string is a Convoy secret, even one that is not base64.
        validate_secret(&convoy, &Secret::new("whsec_not*base64!"), "secret").unwrap();
    }

    #[test]
    fn a_signer_names_the_secret_at_fault_and_needs_one_to_ten() {
        let good = format!("whsec_{}", BASE64.encode([1u8; 24]));
        let err = Signer::new(
            SignatureForm::StandardWebhooks,
            &secrets(&[&good, "whsec_bad"]),
            "secrets",
        )
        .unwrap_err();
        assert_eq!(err.field, "secrets[1]");
        let convoy = SignatureForm::ConvoySimple(ConvoyScheme::default());
        assert_eq!(
            Signer::new(convoy.clone(), &[], "secrets")
                .unwrap_err()
                .field,
            "secrets"
        );
        let eleven = secrets(&["s"; MAX_LIVE_SECRETS + 1]);
        assert_eq!(
            Signer::new(convoy.clone(), &eleven, "secrets")
                .unwrap_err()
                .field,
            "secrets"
        );
        Signer::new(convoy, &secrets(&["s"; MAX_LIVE_SECRETS]), "secrets").unwrap();
    }

    #[test]
    fn a_delivery_id_that_cannot_be_a_webhook_id_is_an_error_in_every_form() {
        let forms = [
            SignatureForm::ConvoySimple(ConvoyScheme::default()),
            SignatureForm::ConvoyAdvanced(ConvoyScheme::default()),
            SignatureForm::StandardWebhooks,
        ];
        let long = "a".repeat(MAX_DELIVERY_ID_BYTES + 1);
        for form in forms {
            let secret = generate_secret(&form);
            let signer = Signer::new(form, &[secret], "secrets").unwrap();
            for bad in [
                "",
                "msg.1",
                "has space",
                "tab\t",
                "é",
                "new\nline",
                long.as_str(),
            ] {
                assert_eq!(
                    signer.headers(bad, 1, b"x"),
                    Err(InvalidDeliveryId),
                    "{bad:?}"
                );
            }
            assert!(
                signer
                    .headers(&"a".repeat(MAX_DELIVERY_ID_BYTES), 1, b"x")
                    .is_ok()
            );
        }
    }

    #[test]
    fn generated_secrets_are_random_and_valid_for_their_form() {
        let convoy = SignatureForm::ConvoySimple(ConvoyScheme::default());
        let (a, b) = (generate_secret(&convoy), generate_secret(&convoy));
        assert_ne!(a, b);
        assert_eq!(a.expose().len(), 64);
        assert!(a.expose().bytes().all(|c| c.is_ascii_hexdigit()));

        let standard = SignatureForm::StandardWebhooks;
        let (c, d) = (generate_secret(&standard), generate_secret(&standard));
        assert_ne!(c, d);
        let key = BASE64
            .decode(c.expose().strip_prefix("whsec_").unwrap())
            .unwrap();
        assert_eq!(key.len(), 32);
        validate_secret(&standard, &c, "secret").unwrap();
    }

    #[test]
    fn scheme_settings_parse_as_convoy_spells_them_and_name_the_field() {
        assert_eq!(Hash::parse("SHA512", "h").unwrap(), Hash::Sha512);
        assert_eq!(Hash::parse("sha256", "h").unwrap(), Hash::Sha256);
        assert_eq!(
            Hash::parse("MD5", "config.signature.versions[0].hash")
                .unwrap_err()
                .field,
            "config.signature.versions[0].hash"
        );
        assert_eq!(Encoding::parse("Base64", "e").unwrap(), Encoding::Base64);
        assert_eq!(Encoding::parse("hex", "e").unwrap(), Encoding::Hex);
        assert_eq!(Encoding::parse("base32", "e").unwrap_err().field, "e");
        assert_eq!(
            ConvoyScheme::parse_header("bad header", "config.signature.header")
                .unwrap_err()
                .field,
            "config.signature.header"
        );
        assert_eq!(ConvoyScheme::parse_header("", "h").unwrap_err().field, "h");
    }

    #[test]
    fn a_signer_never_shows_its_keys() {
        let signer = Signer::new(
            SignatureForm::ConvoySimple(ConvoyScheme::default()),
            &secrets(&["hunter2"]),
            "s",
        )
        .unwrap();
        let shown = format!("{signer:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains(&format!("{:?}", b"hunter2")),
            "{shown}"
        );
    }
}
