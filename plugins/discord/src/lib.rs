//! Discord interactions (and webhook events) sent to an interactions endpoint URL.
//!
//! - Headers: `X-Signature-Ed25519` (hex, 64 bytes) and `X-Signature-Timestamp`.
//! - Signed bytes: the timestamp header's value followed by the raw body, Ed25519, checked
//!   with the application's public key (hex, 32 bytes) from the `public_key` field. A bad or
//!   missing signature is a reject (401), which Discord's endpoint check requires.
//! - Replay window: the timestamp (Unix seconds) within `tolerance_seconds` (default 300 s)
//!   of the receive time, checked after the signature.
//! - Handshake: a signed interaction PING (`{"type":1}`) is answered `200` `{"type":1}`
//!   (PONG), and a signed webhook-event PING (`{"version":1,"type":0,...}`) `204` with no
//!   body, both only after the signature verifies. The answers are constants: nothing is
//!   signed for a caller, so there is no signing oracle.
//! - Event type and idempotency key: for a webhook event (a body with `event`, or with
//!   `version` and `application_id` but no interaction `id`), `event.type`
//!   (`APPLICATION_AUTHORIZED`, ...) and no key; for an interaction, `interaction.<type>`
//!   (`interaction.2` is an application command) and the interaction's `id`.

use inlet_sdk::crypto::ed25519_verify;
use inlet_sdk::{Config, ConfigField, Plugin, PluginInfo, Request, Verdict, hex_decode};
use serde::Deserialize;

const MAX_KEY_LEN: usize = 1024;

pub struct Discord;

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "type")]
    kind: Option<i64>,
    /// Interactions have an id; webhook events do not.
    id: Option<String>,
    event: Option<Event>,
    application_id: Option<String>,
    version: Option<i64>,
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl Plugin for Discord {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "discord",
            env!("CARGO_PKG_VERSION"),
            "Discord interactions and webhook events, signed with Ed25519 (X-Signature-Ed25519)",
        )
        .field(ConfigField {
            name: "public_key".into(),
            description: "the application's public key (hex), from the Developer Portal".into(),
            required: true,
            secret: false,
        })
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        let Some(key) = config
            .get("public_key")
            .and_then(hex_decode)
            .filter(|k| k.len() == 32)
        else {
            return Verdict::misconfigured("public_key");
        };
        let (Some(signature), Some(t)) = (
            request.header("x-signature-ed25519"),
            request.header("x-signature-timestamp"),
        ) else {
            return Verdict::reject("missing signature");
        };
        let mut signed = t.as_bytes().to_vec();
        signed.extend_from_slice(&request.body);
        let genuine = hex_decode(signature).is_some_and(|sig| ed25519_verify(&key, &signed, &sig));
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        let Ok(timestamp) = t.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        if !request.is_fresh(timestamp, config) {
            return Verdict::reject("timestamp outside the replay window");
        }
        let Ok(body) = serde_json::from_slice::<Body>(&request.body) else {
            return Verdict::accept();
        };
        let webhook_event = body.event.is_some()
            || (body.id.is_none() && body.version.is_some() && body.application_id.is_some());
        match (webhook_event, body.kind) {
            // Webhook events: PING is type 0, answered with an empty 204.
            (true, Some(0)) => Verdict::Respond {
                status: 204,
                headers: Vec::new(),
                body: Vec::new(),
                state: None,
            },
            (true, _) => Verdict::accept().with_event_type(
                body.event
                    .as_ref()
                    .and_then(|e| e.kind.as_deref())
                    .filter(|k| k.len() <= MAX_KEY_LEN),
            ),
            // Interactions: PING is type 1, answered with PONG.
            (false, Some(1)) => Verdict::respond_json(200, r#"{"type":1}"#),
            (false, kind) => {
                let kind = kind.map(|k| format!("interaction.{k}"));
                Verdict::accept()
                    .with_event_type(kind.as_deref())
                    .with_idempotency_key(body.id.as_deref().filter(|id| id.len() <= MAX_KEY_LEN))
            }
        }
    }
}

/// Discord's side, for the conformance cases: Ed25519 over `timestamp + body` with the seed
/// (hex) in the field `private_key`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Discord {
    fn sign(request: &mut Request, config: &Config) {
        let seed = config
            .get("private_key")
            .and_then(hex_decode)
            .unwrap_or_default();
        let t = request.received_at.to_string();
        let mut signed = t.as_bytes().to_vec();
        signed.extend_from_slice(&request.body);
        let signature = inlet_sdk::conformance::sign::ed25519(&seed, &signed);
        request.headers.push(("x-signature-timestamp".into(), t));
        request.headers.push((
            "x-signature-ed25519".into(),
            inlet_sdk::hex_encode(&signature),
        ));
    }
}

inlet_sdk::export_plugin!(Discord);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Discord>(include_str!("../cases.json"));
    }

    #[test]
    fn fails_closed_without_a_usable_key() {
        let request = Request::post(r#"{"type":1}"#)
            .with_header("x-signature-ed25519", &"00".repeat(64))
            .with_header("x-signature-timestamp", "1700000000");
        for config in [
            Config::default(),
            Config::default().with_field("public_key", "abcd"),
            Config::default().with_field("public_key", "zz"),
        ] {
            assert_eq!(
                Discord::verify(&request, &config),
                Verdict::misconfigured("public_key")
            );
        }
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::default().with_field("public_key", &"11".repeat(32));
        for signature in ["", "zz", "00", &"00".repeat(64)] {
            let request = Request::post(r#"{"type":1}"#)
                .with_header("x-signature-ed25519", signature)
                .with_header("x-signature-timestamp", "1700000000")
                .received(1_700_000_000);
            assert_eq!(
                Discord::verify(&request, &config),
                Verdict::reject("invalid signature")
            );
        }
    }
}
