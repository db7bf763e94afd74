//! SendGrid (Twilio SendGrid) signed Event Webhook.
//!
//! - Headers: `X-Twilio-Email-Event-Webhook-Signature` (base64 of a DER ECDSA signature) and
//!   `X-Twilio-Email-Event-Webhook-Timestamp` (Unix seconds).
//! - Signed bytes: the timestamp header's value followed by the raw body (SendGrid's body
//!   ends with `\r\n`, which is signed too), ECDSA P-256 with SHA-256, checked with the
//!   verification key from the `public_key` field (base64 DER `SubjectPublicKeyInfo`, as the
//!   SendGrid console shows it).
//! - Replay window: the timestamp within `tolerance_seconds` (default 300 s) of the receive
//!   time, checked after the signature.
//! - Event type and idempotency key: the body is a JSON array of events; the event type is
//!   their `event` (`delivered`, `open`, ...) when all share one, and the key the first
//!   event's `sg_event_id` (a retried batch is resent as it was).
//! - Handshake: none; every verdict is an accept or a reject, so nothing is ever signed for
//!   a caller (and the plugin holds no private key).

use inlet_sdk::crypto::ecdsa_p256_sha256_verify;
use inlet_sdk::{Config, ConfigField, Plugin, PluginInfo, Request, Verdict, base64_decode};
use serde::Deserialize;

const MAX_KEY_LEN: usize = 1024;

pub struct SendGrid;

#[derive(Deserialize)]
struct Event {
    event: Option<String>,
    sg_event_id: Option<String>,
}

impl Plugin for SendGrid {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "sendgrid",
            env!("CARGO_PKG_VERSION"),
            "SendGrid signed Event Webhook (ECDSA P-256 over timestamp + body)",
        )
        .field(ConfigField {
            name: "public_key".into(),
            description: "the Event Webhook verification key (base64 DER public key)".into(),
            required: true,
            secret: false,
        })
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        let Some(key) = config.get("public_key").and_then(base64_decode) else {
            return Verdict::misconfigured("public_key");
        };
        let (Some(signature), Some(t)) = (
            request.header("x-twilio-email-event-webhook-signature"),
            request.header("x-twilio-email-event-webhook-timestamp"),
        ) else {
            return Verdict::reject("missing signature");
        };
        let mut signed = t.as_bytes().to_vec();
        signed.extend_from_slice(&request.body);
        let genuine = base64_decode(signature)
            .is_some_and(|sig| ecdsa_p256_sha256_verify(&key, &signed, &sig));
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        let Ok(timestamp) = t.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        if !request.is_fresh(timestamp, config) {
            return Verdict::reject("timestamp outside the replay window");
        }
        let events = serde_json::from_slice::<Vec<Event>>(&request.body).unwrap_or_default();
        let first = events.first().and_then(|e| e.event.as_deref());
        let shared = first.filter(|kind| events.iter().all(|e| e.event.as_deref() == Some(kind)));
        let key = events.first().and_then(|e| e.sg_event_id.as_deref());
        Verdict::accept()
            .with_event_type(shared.filter(|k| k.len() <= MAX_KEY_LEN))
            .with_idempotency_key(key.filter(|k| k.len() <= MAX_KEY_LEN))
    }
}

/// SendGrid's side, for the conformance cases: ECDSA P-256 over `timestamp + body` with the
/// PKCS#8 key (base64 DER) in the field `private_key`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for SendGrid {
    fn sign(request: &mut Request, config: &Config) {
        let key = config
            .get("private_key")
            .and_then(base64_decode)
            .unwrap_or_default();
        let t = request.received_at.to_string();
        let mut signed = t.as_bytes().to_vec();
        signed.extend_from_slice(&request.body);
        let signature = inlet_sdk::conformance::sign::ecdsa_p256_sha256(&key, &signed);
        request
            .headers
            .push(("x-twilio-email-event-webhook-timestamp".into(), t));
        request.headers.push((
            "x-twilio-email-event-webhook-signature".into(),
            inlet_sdk::base64_encode(&signature),
        ));
    }
}

inlet_sdk::export_plugin!(SendGrid);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<SendGrid>(include_str!("../cases.json"));
    }

    #[test]
    fn fails_closed_and_rejects_malformed_signatures() {
        let request = |sig: &str| {
            Request::post("[]\r\n")
                .with_header("x-twilio-email-event-webhook-signature", sig)
                .with_header("x-twilio-email-event-webhook-timestamp", "1700000000")
                .received(1_700_000_000)
        };
        assert_eq!(
            SendGrid::verify(&request("MEUCIQ=="), &Config::default()),
            Verdict::misconfigured("public_key")
        );
        let config = Config::default().with_field("public_key", "not base64!");
        assert_eq!(
            SendGrid::verify(&request(""), &config),
            Verdict::misconfigured("public_key")
        );
        let config = Config::default().with_field(
            "public_key",
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUqNaUx3PlnkjkO5JkdGj6G6l8PKnnI0rcNb6ppprXGTbKuQWk6TveYZ9YHVPk8GF+avbc5GkV16Q3MMvOeZm3Q==",
        );
        for sig in ["", "!!!", "MEUCIQ==", &"A".repeat(88)] {
            assert_eq!(
                SendGrid::verify(&request(sig), &config),
                Verdict::reject("invalid signature")
            );
        }
    }
}
