//! Linear webhooks.
//!
//! - Header checked: `Linear-Signature: <hex HMAC-SHA256(signing secret, body)>`, over the raw
//!   body, with any active secret (rotation).
//! - Replay window: the body's `webhookTimestamp` (Unix milliseconds, covered by the
//!   signature) must be within `tolerance_seconds` (default 300 s) of the receive time. It is
//!   required: Linear sends it in every delivery, so a body without it is refused. It is read
//!   only after the signature is verified, and only from a body that parses as a JSON object.
//! - Handshake: none; every verdict is an accept or a reject, and nothing is ever signed.
//! - Event type: `Linear-Event` (`Issue`, `Comment`, ...); without it, the body's `type` and
//!   `action` as `Issue.create` (or `type` alone).
//! - Idempotency key: `Linear-Delivery`, the delivery's id.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};
use serde::Deserialize;

/// The host refuses event types and keys longer than this.
const MAX_LEN: usize = 1024;

const SIGNATURE: HmacHeader = HmacHeader {
    name: "linear-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Linear;

/// The parts of a payload the plugin reads.
#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "webhookTimestamp")]
    webhook_timestamp: Option<i64>,
    #[serde(rename = "type")]
    kind: Option<String>,
    action: Option<String>,
}

impl Plugin for Linear {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "linear",
            env!("CARGO_PKG_VERSION"),
            "Linear webhooks, signed with Linear-Signature (HMAC-SHA256) and webhookTimestamp",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        let Ok(payload) = serde_json::from_slice::<Payload>(&request.body) else {
            return Verdict::reject("body is not a JSON object");
        };
        let Some(millis) = payload.webhook_timestamp else {
            return Verdict::reject("missing webhookTimestamp");
        };
        if !request.is_fresh(millis.div_euclid(1000), config) {
            return Verdict::reject("stale timestamp");
        }
        let from_body = match (&payload.kind, &payload.action) {
            (Some(kind), Some(action)) => Some(format!("{kind}.{action}")),
            (Some(kind), None) => Some(kind.clone()),
            _ => None,
        };
        let event_type = request.header("linear-event").or(from_body.as_deref());
        Verdict::accept()
            .with_event_type(bounded(event_type))
            .with_idempotency_key(bounded(request.header("linear-delivery")))
    }
}

fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
}

/// Linear's side, for the conformance cases: when it sends a delivery it sets the JSON body's
/// `webhookTimestamp` to the send time (Unix milliseconds), then signs the body as sent. A
/// body that is not a JSON object is signed as it is.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Linear {
    fn sign(request: &mut Request, config: &Config) {
        if let Ok(serde_json::Value::Object(mut body)) =
            serde_json::from_slice::<serde_json::Value>(&request.body)
        {
            let millis = request.received_at.saturating_mul(1000);
            body.insert("webhookTimestamp".into(), millis.into());
            request.body = serde_json::Value::Object(body).to_string().into_bytes();
        }
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Linear);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Linear>(include_str!("../cases.json"));
    }

    fn signed(body: &str) -> Request {
        let signature = inlet_sdk::hex_encode(&hmac_sha256(b"s", body.as_bytes()));
        Request::post(body)
            .received(1_700_000_000)
            .with_header("Linear-Signature", &signature)
    }

    #[test]
    fn fails_closed_without_a_secret() {
        assert_eq!(
            Linear::verify(&signed("{}"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn the_timestamp_is_required_and_bounded() {
        let config = Config::with_secret("s");
        let cases = [
            ("{}", "missing webhookTimestamp"),
            (r#"{"webhookTimestamp":null}"#, "missing webhookTimestamp"),
            (
                r#"{"webhookTimestamp":"1700000000000"}"#,
                "body is not a JSON object",
            ),
            (
                r#"{"webhookTimestamp":1.7e12}"#,
                "body is not a JSON object",
            ),
            (
                r#"{"webhookTimestamp":99999999999999999999}"#,
                "body is not a JSON object",
            ),
            (
                r#"{"webhookTimestamp":-9223372036854775808}"#,
                "stale timestamp",
            ),
            (r#"{"webhookTimestamp":1700000301000}"#, "stale timestamp"),
            ("[1]", "body is not a JSON object"),
            ("", "body is not a JSON object"),
        ];
        for (body, reason) in cases {
            assert_eq!(
                Linear::verify(&signed(body), &config),
                Verdict::reject(reason),
                "{body}"
            );
        }
        assert!(
            Linear::verify(&signed(r#"{"webhookTimestamp":1700000300999}"#), &config).is_accept()
        );
    }

    #[test]
    fn the_signer_stamps_the_body_with_the_send_time() {
        use inlet_sdk::conformance::Signer;
        let mut request =
            Request::post(r#"{"type":"Issue","webhookTimestamp":1}"#).received(1_700_000_000);
        Linear::sign(&mut request, &Config::with_secret("s"));
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["webhookTimestamp"], 1_700_000_000_000_i64);
        assert_eq!(body["type"], "Issue");
        assert_eq!(
            Linear::verify(&request, &Config::with_secret("s")),
            Verdict::accept().with_event_type("Issue")
        );
    }

    #[test]
    fn the_type_falls_back_to_the_body() {
        let config = Config::with_secret("s");
        let body = r#"{"type":"Issue","action":"update","webhookTimestamp":1700000000000}"#;
        assert_eq!(
            Linear::verify(&signed(body), &config),
            Verdict::accept().with_event_type("Issue.update")
        );
        let body = r#"{"type":"Issue","webhookTimestamp":1700000000000}"#;
        assert_eq!(
            Linear::verify(&signed(body), &config),
            Verdict::accept().with_event_type("Issue")
        );
    }
}
