//! Twitch EventSub webhooks; the secret is the one given when creating the subscription.
//!
//! - Headers checked: `Twitch-Eventsub-Message-Signature: sha256=<hex>`, the lower-case hex
//!   HMAC-SHA256, with the secret, of the `Twitch-Eventsub-Message-Id` header, then the
//!   `Twitch-Eventsub-Message-Timestamp` header, then the raw body, concatenated. A signature
//!   made with any active secret is accepted (rotation).
//! - Replay window: `Twitch-Eventsub-Message-Timestamp` (RFC 3339 with nanoseconds, read
//!   with the SDK's `unix_from_rfc3339`) must be within `tolerance_seconds`
//!   of the receive time, by default 600 (Twitch's documented ten minutes), checked after
//!   the signature. The message id (the idempotency key) catches replays inside the window.
//! - Handshake: `Twitch-Eventsub-Message-Type: webhook_callback_verification` is answered
//!   `200` `text/plain` with the body's `challenge`, raw, and stores nothing; only after the
//!   signature and timestamp verify, and only for a challenge of 1 to 1024 characters of
//!   `[A-Za-z0-9._~+/=-]`. It is not a signing oracle: the answer signs nothing (it echoes
//!   a value Twitch itself signed, and the echo is no signature of anything).
//! - `revocation` messages are stored as events of type `revocation`; `notification` (and any
//!   future message type) as events of the `Twitch-Eventsub-Subscription-Type` header
//!   (`channel.follow`, ...). Idempotency key: `Twitch-Eventsub-Message-Id`, which Twitch
//!   keeps when it resends a message.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, ConfigField, HmacHeader, Plugin, PluginInfo, Request, Verdict};
use serde::Deserialize;
use std::borrow::Cow;

/// The most of the event type and id taken (the host refuses longer than 1 KiB).
const MAX_LEN: usize = 1024;
/// Twitch's documented replay window: ten minutes.
const DEFAULT_TOLERANCE_SECONDS: u64 = 600;
/// The longest challenge echoed (Twitch's are a few dozen characters).
const MAX_CHALLENGE_LEN: usize = 1024;

const SIGNATURE: HmacHeader = HmacHeader {
    name: "twitch-eventsub-message-signature",
    prefix: "sha256=",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Twitch;

/// The verification request's body.
#[derive(Deserialize)]
struct Verification<'a> {
    #[serde(borrow)]
    challenge: Cow<'a, str>,
}

/// The bytes Twitch signs: message id, timestamp, body.
fn signed_bytes(id: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("{id}{timestamp}").into_bytes();
    signed.extend_from_slice(body);
    signed
}

/// Twitch's challenge shape: bounded, URL- and base64-safe characters only.
fn is_challenge(challenge: &str) -> bool {
    (1..=MAX_CHALLENGE_LEN).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b))
}

impl Plugin for Twitch {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "twitch",
            env!("CARGO_PKG_VERSION"),
            "Twitch EventSub webhooks, answering the callback verification challenge",
        )
        .secret()
        .field(ConfigField {
            name: "tolerance_seconds".into(),
            description: format!(
                "how far, in seconds, Twitch-Eventsub-Message-Timestamp may be from the \
                 receive time (default {DEFAULT_TOLERANCE_SECONDS}, Twitch's ten minutes)"
            ),
            required: false,
            secret: false,
        })
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let (Some(_), Some(id), Some(timestamp)) = (
            request.header(SIGNATURE.name),
            request.header("twitch-eventsub-message-id"),
            request.header("twitch-eventsub-message-timestamp"),
        ) else {
            return Verdict::reject("missing signature");
        };
        // Any active secret (rotation) may have signed it.
        let signed = signed_bytes(id, timestamp, &request.body);
        if let Err(reject) = SIGNATURE.verify(request, config, &signed) {
            return reject;
        }
        let Some(sent_at) = inlet_sdk::unix_from_rfc3339(timestamp) else {
            return Verdict::reject("malformed timestamp");
        };
        let tolerance = config
            .get("tolerance_seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_TOLERANCE_SECONDS);
        if request.received_at.abs_diff(sent_at) > tolerance {
            return Verdict::reject("stale timestamp");
        }
        match request.header("twitch-eventsub-message-type") {
            Some("webhook_callback_verification") => {
                match serde_json::from_slice::<Verification>(&request.body) {
                    Ok(v) if is_challenge(&v.challenge) => {
                        Verdict::respond(200, "text/plain", v.challenge.as_bytes())
                    }
                    Ok(_) => Verdict::reject("malformed challenge"),
                    Err(_) => Verdict::reject("missing challenge"),
                }
            }
            Some("revocation") => Verdict::accept()
                .with_event_type("revocation")
                .with_idempotency_key(bounded(Some(id))),
            _ => Verdict::accept()
                .with_event_type(bounded(request.header("twitch-eventsub-subscription-type")))
                .with_idempotency_key(bounded(Some(id))),
        }
    }
}

/// A value short and non-empty enough to be an event type or key.
fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
}

/// Twitch's side, for the conformance cases: it stamps the message (keeping the case's
/// message id, or adding one) and signs id + timestamp + body.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Twitch {
    fn sign(request: &mut Request, config: &Config) {
        let id = match request.header("twitch-eventsub-message-id") {
            Some(id) => id.to_string(),
            None => {
                let id = "e76c6bd4-55c9-4987-8304-da1588d8988b".to_string();
                request
                    .headers
                    .push(("twitch-eventsub-message-id".into(), id.clone()));
                id
            }
        };
        // Twitch sends nanoseconds; the plugin drops them.
        let timestamp = inlet_sdk::conformance::sign::rfc3339(request.received_at, 0)
            .replace('Z', ".634234626Z");
        let signed = signed_bytes(&id, &timestamp, &request.body);
        request
            .headers
            .push(("twitch-eventsub-message-timestamp".into(), timestamp));
        SIGNATURE.sign(request, config, &signed);
    }
}

inlet_sdk::export_plugin!(Twitch);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    const NOW: i64 = 1_700_000_000;
    const STAMP: &str = "2023-11-14T22:13:20.123456789Z";

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(kind: &str, body: &str, secret: &str, timestamp: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("m-1{timestamp}{body}").as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        Request::post(body)
            .with_header("Twitch-Eventsub-Message-Id", "m-1")
            .with_header("Twitch-Eventsub-Message-Timestamp", timestamp)
            .with_header("Twitch-Eventsub-Message-Signature", &signature)
            .with_header("Twitch-Eventsub-Message-Type", kind)
            .with_header("Twitch-Eventsub-Subscription-Type", "channel.follow")
            .received(NOW)
    }

    fn challenge(c: &str) -> Request {
        let body = serde_json::json!({"challenge": c, "subscription": {}}).to_string();
        signed("webhook_callback_verification", &body, "k", STAMP)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Twitch>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = Twitch::describe();
        assert_eq!(info.name, "twitch");
        assert!(info.config[0].name == "secret" && info.config[0].required);
    }

    #[test]
    fn rfc3339() {
        assert_eq!(inlet_sdk::unix_from_rfc3339(STAMP), Some(NOW));
        assert_eq!(
            inlet_sdk::unix_from_rfc3339("2023-11-14T23:13:20+01:00"),
            Some(NOW)
        );
        for bad in [
            "",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "2023-02-29T00:00:00Z",
            "2023-11-14T22:13:20+0100",
            "2023-11-14 22:13:20Z",
            "2023-11-14T22:60:00Z",
        ] {
            assert_eq!(inlet_sdk::unix_from_rfc3339(bad), None, "{bad:?}");
        }
        for unix in [0, NOW, 4_102_444_800] {
            assert_eq!(
                inlet_sdk::unix_from_rfc3339(&inlet_sdk::conformance::sign::rfc3339(unix, 0)),
                Some(unix)
            );
        }
    }

    #[test]
    fn message_types() {
        let config = Config::with_secret("k");
        assert_eq!(
            Twitch::verify(&signed("notification", "{}", "k", STAMP), &config),
            Verdict::accept()
                .with_event_type("channel.follow")
                .with_idempotency_key("m-1")
        );
        assert_eq!(
            Twitch::verify(&signed("revocation", "{}", "k", STAMP), &config),
            Verdict::accept()
                .with_event_type("revocation")
                .with_idempotency_key("m-1")
        );
        assert_eq!(
            Twitch::verify(&challenge("pogchamp-kappa-360noscope-vohiyo"), &config),
            Verdict::respond(200, "text/plain", "pogchamp-kappa-360noscope-vohiyo")
        );
    }

    #[test]
    fn challenges_are_shape_checked() {
        let config = Config::with_secret("k");
        let longest = "a".repeat(MAX_CHALLENGE_LEN);
        assert!(matches!(
            Twitch::verify(&challenge(&longest), &config),
            Verdict::Respond { .. }
        ));
        for bad in [
            "",
            "a b",
            "<script>",
            "a\nb",
            "é",
            "{\"a\":1}",
            &"a".repeat(MAX_CHALLENGE_LEN + 1),
        ] {
            assert_eq!(
                Twitch::verify(&challenge(bad), &config),
                Verdict::reject("malformed challenge"),
                "{bad:?}"
            );
        }
        let no_challenge = signed("webhook_callback_verification", "{}", "k", STAMP);
        assert_eq!(
            Twitch::verify(&no_challenge, &config),
            Verdict::reject("missing challenge")
        );
        // An unsigned verification is refused before its challenge is read.
        let mut forged = challenge("abc");
        forged
            .headers
            .retain(|(n, _)| n != "twitch-eventsub-message-signature");
        assert_eq!(
            Twitch::verify(&forged, &config),
            Verdict::reject("missing signature")
        );
        assert_eq!(
            Twitch::verify(&challenge("abc"), &Config::with_secret("other")),
            Verdict::reject("invalid signature")
        );
    }

    #[test]
    fn window_and_malformed() {
        let config = Config::with_secret("k");
        assert!(
            Twitch::verify(
                &signed("notification", "{}", "k", "2023-11-14T22:03:20Z"),
                &config
            )
            .is_accept()
        );
        assert_eq!(
            Twitch::verify(
                &signed("notification", "{}", "k", "2023-11-14T22:03:19Z"),
                &config
            ),
            Verdict::reject("stale timestamp")
        );
        assert_eq!(
            Twitch::verify(&signed("notification", "{}", "k", "1700000000"), &config),
            Verdict::reject("malformed timestamp")
        );
        for header in ["", "sha256=", "sha256=zz", "sha1=00", "00"] {
            let mut request = signed("notification", "{}", "k", STAMP);
            request
                .headers
                .retain(|(n, _)| n != "twitch-eventsub-message-signature");
            let request = request.with_header("twitch-eventsub-message-signature", header);
            assert_eq!(
                Twitch::verify(&request, &config),
                Verdict::reject("invalid signature")
            );
        }
        assert_eq!(
            Twitch::verify(
                &signed("notification", "{}", "k", STAMP),
                &Config::default()
            ),
            Verdict::misconfigured("secret")
        );
    }
}
