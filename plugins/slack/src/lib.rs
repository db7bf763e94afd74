//! Slack (Events API, slash commands, interactivity), with the app's signing secret.
//!
//! - Headers: `X-Slack-Signature: v0=<hex>` and `X-Slack-Request-Timestamp` (Unix seconds).
//! - Signed bytes: `v0:{timestamp}:{body}` (the raw body), HMAC-SHA256 with the signing
//!   secret, hex-encoded. Only the `v0` version exists; any active secret may have signed it.
//! - Replay window: the timestamp within `tolerance_seconds` (default 300 s, the five
//!   minutes Slack recommends) of the receive time, checked after the signature.
//! - Handshake: a signed `{"type":"url_verification","challenge":...}` is answered `200`
//!   `text/plain` with the challenge, only after its signature and timestamp verify, and only
//!   for a challenge of 1 to 128 letters, digits, `-` or `_`. It echoes Slack's own signed
//!   value and signs nothing, so it is no signing oracle.
//! - Event type and idempotency key: for JSON bodies, the inner `event.type` of an
//!   `event_callback` (else the top-level `type`) and `event_id` (the same on Slack's
//!   retries); for form bodies, a slash command's `command` or an interaction `payload`'s
//!   `type`, and `trigger_id`.

use std::collections::BTreeMap;

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};
use serde::Deserialize;
use serde_json::value::RawValue;

const MAX_CHALLENGE_LEN: usize = 128;
const MAX_KEY_LEN: usize = 1024;

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-slack-signature",
    prefix: "v0=",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Slack;

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: Option<String>,
    challenge: Option<String>,
    event_id: Option<String>,
    event: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Slack's challenge shape: letters, digits, `-` or `_`, bounded.
fn is_challenge(challenge: &str) -> bool {
    (1..=MAX_CHALLENGE_LEN).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The bytes Slack signs: `v0:{timestamp}:{body}`.
fn signed_bytes(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("v0:{timestamp}:").into_bytes();
    signed.extend_from_slice(body);
    signed
}

fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| v.len() <= MAX_KEY_LEN)
}

impl Plugin for Slack {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "slack",
            env!("CARGO_PKG_VERSION"),
            "Slack requests, signed with X-Slack-Signature (v0), answering url_verification",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let (Some(_), Some(t)) = (
            request.header(SIGNATURE.name),
            request.header("x-slack-request-timestamp"),
        ) else {
            return Verdict::reject("missing signature");
        };
        let Ok(timestamp) = t.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &signed_bytes(t, &request.body)) {
            return reject;
        }
        if !request.is_fresh(timestamp, config) {
            return Verdict::reject("timestamp outside the replay window");
        }
        if let Ok(envelope) = serde_json::from_slice::<Envelope>(&request.body) {
            if envelope.kind.as_deref() == Some("url_verification") {
                return match envelope.challenge.as_deref() {
                    Some(challenge) if is_challenge(challenge) => {
                        Verdict::respond(200, "text/plain", challenge)
                    }
                    _ => Verdict::reject("malformed challenge"),
                };
            }
            let inner = envelope.event.and_then(|e| e.kind);
            let kind = match envelope.kind.as_deref() {
                Some("event_callback") if inner.is_some() => inner,
                _ => envelope.kind,
            };
            return Verdict::accept()
                .with_event_type(bounded(kind.as_deref()))
                .with_idempotency_key(bounded(envelope.event_id.as_deref()));
        }
        // Slash commands and interactions are forms.
        let form: BTreeMap<String, String> = request.form().into_iter().collect();
        let kind = match (form.get("command"), form.get("payload")) {
            (Some(command), _) => Some(command.clone()),
            (None, Some(payload)) => serde_json::from_str::<BTreeMap<String, &RawValue>>(payload)
                .ok()
                .and_then(|p| {
                    p.get("type")
                        .and_then(|t| serde_json::from_str(t.get()).ok())
                }),
            (None, None) => None,
        };
        Verdict::accept()
            .with_event_type(bounded(kind.as_deref()))
            .with_idempotency_key(bounded(form.get("trigger_id").map(String::as_str)))
    }
}

/// Slack's side, for the conformance cases: `v0=<hex HMAC-SHA256(secret, "v0:t:body")>`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Slack {
    fn sign(request: &mut Request, config: &Config) {
        let t = request.received_at.to_string();
        let signed = signed_bytes(&t, &request.body);
        request
            .headers
            .push(("x-slack-request-timestamp".into(), t));
        SIGNATURE.sign(request, config, &signed);
    }
}

inlet_sdk::export_plugin!(Slack);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::conformance::Signer;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Slack>(include_str!("../cases.json"));
    }

    fn signed(body: &str) -> Request {
        let mut request = Request::post(body).received(1_700_000_000);
        Slack::sign(&mut request, &Config::with_secret("s"));
        request
    }

    #[test]
    fn challenges_of_another_shape_are_refused() {
        let long = "a".repeat(MAX_CHALLENGE_LEN + 1);
        for challenge in ["", "a b", "<script>", "a:b", &long] {
            let body = serde_json::json!({"type": "url_verification", "challenge": challenge});
            assert_eq!(
                Slack::verify(&signed(&body.to_string()), &Config::with_secret("s")),
                Verdict::reject("malformed challenge"),
                "{challenge:?}"
            );
        }
        // Not a string: no answer (the signed body is then an ordinary request).
        let body = r#"{"type":"url_verification","challenge":1}"#;
        assert!(!matches!(
            Slack::verify(&signed(body), &Config::with_secret("s")),
            Verdict::Respond { .. }
        ));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        for (sig, t) in [
            ("", "1700000000"),
            ("v0=zz", "1700000000"),
            ("v1=00", "1700000000"),
            ("v0=00", "x"),
        ] {
            let request = Request::post("{}")
                .with_header("x-slack-signature", sig)
                .with_header("x-slack-request-timestamp", t)
                .received(1_700_000_000);
            assert!(matches!(
                Slack::verify(&request, &Config::with_secret("s")),
                Verdict::Reject(_)
            ));
        }
    }

    #[test]
    fn an_interaction_payload_gives_its_type() {
        let body = "payload=%7B%22type%22%3A%22block_actions%22%7D&trigger_id=t1";
        assert_eq!(
            Slack::verify(&signed(body), &Config::with_secret("s")),
            Verdict::accept()
                .with_event_type("block_actions")
                .with_idempotency_key("t1")
        );
    }
}
