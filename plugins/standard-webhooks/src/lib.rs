//! Standard Webhooks (standardwebhooks.com), the scheme Svix sends, so also Clerk, Resend,
//! OpenAI, Replicate and other Svix-based senders.
//!
//! - Headers: `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, or
//!   their Svix aliases `svix-id`, `svix-timestamp`, `svix-signature` (each read from the
//!   `webhook-` name first).
//! - Signed bytes: `{id}.{timestamp}.{body}` (the raw body).
//! - `webhook-signature` is a space-separated list of `<version>,<base64 signature>`:
//!   - `v1`: HMAC-SHA256 keyed with the base64-decoded secret (`whsec_<base64>`; the prefix is
//!     optional), from `verifier.hmac.secret(s)`; any active secret may have signed it.
//!   - `v1a`: Ed25519 over the same bytes, checked with the public key in the `public_key`
//!     field (`whpk_<base64 of 32 bytes>`; the prefix is optional).
//! - One genuine entry of a supported version is enough; other versions are ignored. A source
//!   needs a secret, a public key or both.
//! - Replay window: `webhook-timestamp` within `tolerance_seconds` (default 300 s, the spec's
//!   own) of the receive time, checked after the signature.
//! - Event type: the body's `type` (the spec's payload structure); idempotency key:
//!   `webhook-id` (the same on every retry of a message).
//! - Handshake: none; every verdict is an accept or a reject, so nothing is ever signed for
//!   a caller.

use inlet_sdk::crypto::{constant_time_eq, ed25519_verify, hmac_sha256};
use inlet_sdk::{Config, ConfigField, Plugin, PluginInfo, Request, Verdict, base64_decode};
use serde::Deserialize;

/// A longer signature header is not a sender's (each entry is about 50 or 90 characters).
const MAX_SIGNATURE_HEADER_LEN: usize = 4096;
/// The host refuses longer idempotency keys and event types.
const MAX_KEY_LEN: usize = 1024;

pub struct StandardWebhooks;

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The first of the headers present.
fn header<'a>(request: &'a Request, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| request.header(name))
}

/// A `whsec_` secret's key bytes; `None` when it is not base64.
fn secret_key(secret: &str) -> Option<Vec<u8>> {
    base64_decode(secret.strip_prefix("whsec_").unwrap_or(secret))
}

/// A `whpk_` public key's 32 bytes; `None` when malformed.
fn public_key(config: &Config) -> Option<Vec<u8>> {
    let key = config.get("public_key")?;
    base64_decode(key.strip_prefix("whpk_").unwrap_or(key)).filter(|k| k.len() == 32)
}

impl Plugin for StandardWebhooks {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "standard-webhooks",
            env!("CARGO_PKG_VERSION"),
            "Standard Webhooks and Svix (v1 HMAC-SHA256 with whsec_ secrets, v1a Ed25519 with a whpk_ key)",
        )
        .field(ConfigField {
            name: "secret".into(),
            description: "the whsec_ signing secret (v1), from verifier.hmac.secret; \
                          required unless public_key is set"
                .into(),
            required: false,
            secret: true,
        })
        .field(ConfigField {
            name: "public_key".into(),
            description: "the whpk_ Ed25519 public key (v1a); required unless a secret is set"
                .into(),
            required: false,
            secret: false,
        })
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        let keys: Vec<Vec<u8>> = config.secrets().filter_map(secret_key).collect();
        let public = public_key(config);
        if keys.is_empty() && public.is_none() {
            // Also when the one configured is malformed: fail closed.
            return Verdict::misconfigured("secret or public_key");
        }
        let (Some(id), Some(t), Some(signatures)) = (
            header(request, &["webhook-id", "svix-id"]),
            header(request, &["webhook-timestamp", "svix-timestamp"]),
            header(request, &["webhook-signature", "svix-signature"]),
        ) else {
            return Verdict::reject("missing signature headers");
        };
        if signatures.len() > MAX_SIGNATURE_HEADER_LEN {
            return Verdict::reject("malformed signature header");
        }
        let Ok(timestamp) = t.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        let mut signed = format!("{id}.{t}.").into_bytes();
        signed.extend_from_slice(&request.body);
        let expected: Vec<Vec<u8>> = keys.iter().map(|k| hmac_sha256(k, &signed)).collect();
        let genuine = signatures
            .split(' ')
            .any(|entry| match entry.split_once(',') {
                Some(("v1", sig)) => base64_decode(sig)
                    .is_some_and(|sig| expected.iter().any(|e| constant_time_eq(&sig, e))),
                Some(("v1a", sig)) => match (&public, base64_decode(sig)) {
                    (Some(key), Some(sig)) => ed25519_verify(key, &signed, &sig),
                    _ => false,
                },
                _ => false,
            });
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        if !request.is_fresh(timestamp, config) {
            return Verdict::reject("timestamp outside the replay window");
        }
        let kind = serde_json::from_slice::<Payload>(&request.body)
            .ok()
            .and_then(|p| p.kind)
            .filter(|k| k.len() <= MAX_KEY_LEN);
        Verdict::accept()
            .with_event_type(kind.as_deref())
            .with_idempotency_key(Some(id).filter(|id| id.len() <= MAX_KEY_LEN))
    }
}

/// The sender's side, for the conformance cases: `v1` with the first secret, or `v1a` with
/// the Ed25519 seed (hex) in the field `private_key` when there is no secret. It sends the
/// `webhook-*` headers, or the `svix-*` ones when the request already has `svix-id`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for StandardWebhooks {
    fn sign(request: &mut Request, config: &Config) {
        use inlet_sdk::base64_encode;
        let prefix = if request.header("svix-id").is_some() {
            "svix"
        } else {
            "webhook"
        };
        let id = request
            .header(&format!("{prefix}-id"))
            .unwrap_or("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
            .to_string();
        let t = request.received_at;
        let mut signed = format!("{id}.{t}.").into_bytes();
        signed.extend_from_slice(&request.body);
        let signature = match (config.secret(), config.get("private_key")) {
            (Some(secret), _) => {
                let key = secret_key(secret).unwrap_or_default();
                format!("v1,{}", base64_encode(&hmac_sha256(&key, &signed)))
            }
            (None, Some(seed)) => {
                let seed = inlet_sdk::hex_decode(seed).unwrap_or_default();
                let sig = inlet_sdk::conformance::sign::ed25519(&seed, &signed);
                format!("v1a,{}", base64_encode(&sig))
            }
            (None, None) => String::new(),
        };
        if request.header(&format!("{prefix}-id")).is_none() {
            request.headers.push((format!("{prefix}-id"), id));
        }
        request
            .headers
            .push((format!("{prefix}-timestamp"), t.to_string()));
        request
            .headers
            .push((format!("{prefix}-signature"), signature));
    }
}

inlet_sdk::export_plugin!(StandardWebhooks);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<StandardWebhooks>(include_str!("../cases.json"));
    }

    fn signed_with(signature: &str, timestamp: &str) -> Request {
        Request::post(r#"{"test": 2432232314}"#)
            .with_header("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
            .with_header("webhook-timestamp", timestamp)
            .with_header("webhook-signature", signature)
            .received(1_614_265_330)
    }

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const V1: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn malformed_signatures_and_timestamps_are_rejected() {
        let config = Config::with_secret(SECRET);
        assert!(StandardWebhooks::verify(&signed_with(V1, "1614265330"), &config).is_accept());
        let long = format!("{} {V1}", "v2,x".repeat(MAX_SIGNATURE_HEADER_LEN / 4));
        for signature in [
            "",
            "v1,",
            "v1",
            "v1a,",
            "v1,!!!",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            &long,
        ] {
            let verdict = StandardWebhooks::verify(&signed_with(signature, "1614265330"), &config);
            assert!(matches!(verdict, Verdict::Reject(_)), "{signature:?}");
        }
        for timestamp in ["", "hello", "1614265330.0", "99999999999999999999"] {
            let verdict = StandardWebhooks::verify(&signed_with(V1, timestamp), &config);
            assert!(matches!(verdict, Verdict::Reject(_)), "{timestamp:?}");
        }
    }

    #[test]
    fn a_v1a_entry_without_a_public_key_is_not_enough() {
        let config = Config::with_secret(SECRET);
        let v1a = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag==";
        assert!(!StandardWebhooks::verify(&signed_with(v1a, "1614265330"), &config).is_accept());
    }

    #[test]
    fn fails_closed_without_a_usable_key() {
        let request = signed_with(V1, "1614265330");
        for config in [
            Config::default(),
            Config::with_secret("whsec_not base64!"),
            Config::default().with_field("public_key", "whpk_AAAA"),
        ] {
            assert_eq!(
                StandardWebhooks::verify(&request, &config),
                Verdict::misconfigured("secret or public_key")
            );
        }
    }
}
