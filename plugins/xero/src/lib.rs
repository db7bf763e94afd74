//! Xero webhooks, signed with the app's webhook key.
//!
//! - Header checked: `x-xero-signature: <base64 HMAC-SHA256(webhook key, body)>` over the raw
//!   body; any active secret (rotation) may have signed it.
//! - Xero signs no timestamp, so there is no replay window: a replay is caught by the
//!   idempotency key.
//! - Handshake ("Intent to receive"): when a subscription is created, re-enabled or its URL
//!   changed, Xero POSTs payloads with `"events": []`, some correctly and some incorrectly
//!   signed, and expects `200` with an empty body for the former and `401` for the latter. So
//!   a correctly signed payload with no events is answered `200` with no body and no headers
//!   (and is not stored), and an incorrectly signed one is rejected (Inlet answers `401`).
//!   The answer carries no signature and echoes nothing of the request, so it is no signing
//!   oracle; it only tells whether a signature was valid, which a reject tells as well.
//! - A correctly signed payload with events is accepted. Event type: the first event's
//!   `eventCategory` and `eventType` joined by `.` (`INVOICE.UPDATE`, `CONTACT.CREATE`).
//!   Idempotency key: `<firstEventSequence>-<lastEventSequence>`, the sequence numbers Xero
//!   documents for the first and last event of the payload (Xero gives events no id), so a
//!   redelivered payload has the same key.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};
use serde::Deserialize;

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-xero-signature",
    prefix: "",
    alphabet: Alphabet::Base64,
    algorithm: HashAlgorithm::Sha256,
};

/// The host refuses event types and keys longer than this.
const MAX_LEN: usize = 1024;

pub struct Xero;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    events: Vec<Event>,
    first_event_sequence: Option<serde_json::Number>,
    last_event_sequence: Option<serde_json::Number>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    event_category: Option<String>,
    event_type: Option<String>,
}

impl Plugin for Xero {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "xero",
            env!("CARGO_PKG_VERSION"),
            "Xero webhooks, signed with x-xero-signature (base64 HMAC-SHA256), with Intent to receive",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        // Genuine. A body of another shape is still what Xero sent: stored, untyped.
        let Ok(payload) = serde_json::from_slice::<Payload>(&request.body) else {
            return Verdict::accept();
        };
        let Some(first) = payload.events.first() else {
            // Intent to receive: 200, no body (Xero's rule), nothing stored.
            return Verdict::Respond {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
                state: None,
            };
        };
        let event_type = match (&first.event_category, &first.event_type) {
            (Some(category), Some(kind)) => Some(format!("{category}.{kind}")),
            (Some(one), None) | (None, Some(one)) => Some(one.clone()),
            (None, None) => None,
        };
        let key = match (&payload.first_event_sequence, &payload.last_event_sequence) {
            (Some(first), Some(last)) => Some(format!("{first}-{last}")),
            _ => None,
        };
        Verdict::accept()
            .with_event_type(bounded(&event_type))
            .with_idempotency_key(bounded(&key))
    }
}

/// Xero's side, for the conformance cases: it signs the body with the webhook key.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Xero {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

/// A value the host takes: at most [`MAX_LEN`] bytes (a longer one is dropped).
fn bounded(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| v.len() <= MAX_LEN)
}

inlet_sdk::export_plugin!(Xero);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    fn signed(body: &str, key: &str) -> Request {
        let signature = inlet_sdk::base64_encode(&hmac_sha256(key.as_bytes(), body.as_bytes()));
        Request::post(body).with_header("x-xero-signature", &signature)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Xero>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        assert_eq!(Xero::describe().name, "xero");
    }

    #[test]
    fn intent_to_receive_answers_without_a_body_or_headers() {
        let body = r#"{"events":[],"lastEventSequence":0,"firstEventSequence":0,"entropy":"S0m3r4Nd0mt3xt"}"#;
        let config = Config::with_secret("key");
        assert_eq!(
            Xero::verify(&signed(body, "key"), &config),
            Verdict::Respond {
                status: 200,
                headers: vec![],
                body: vec![],
                state: None
            }
        );
        assert_eq!(
            Xero::verify(&signed(body, "other"), &config),
            Verdict::reject("invalid signature")
        );
    }

    #[test]
    fn partial_events_and_odd_bodies() {
        let config = Config::with_secret("key");
        let body = r#"{"events":[{"eventCategory":"CONTACT"}],"firstEventSequence":3}"#;
        assert_eq!(
            Xero::verify(&signed(body, "key"), &config),
            Verdict::accept().with_event_type("CONTACT")
        );
        for body in ["", "[]", r#"{"events":{}}"#, "not json"] {
            assert_eq!(
                Xero::verify(&signed(body, "key"), &config),
                Verdict::accept(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::with_secret("key");
        for header in ["", "!!", "sha256=AAAA", "AAAA"] {
            let request = Request::post("{}").with_header("x-xero-signature", header);
            assert_eq!(
                Xero::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }

    #[test]
    fn fails_closed_without_a_secret() {
        assert_eq!(
            Xero::verify(&signed("{}", "key"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
