//! GoCardless (Pro API) webhooks; the secret is the webhook endpoint's secret.
//!
//! - Header checked: `Webhook-Signature`, the lower-case hex HMAC-SHA256 of the raw body
//!   with the webhook endpoint secret. A signature made with any active secret is accepted
//!   (rotation). (The legacy v1 API's `payload.signature` inside the body is not supported.)
//! - Replay window: none. GoCardless signs no timestamp; the key below lets Inlet flag a
//!   replayed delivery as a duplicate.
//! - Handshake: none. Every verdict is an accept or a reject, so nothing the plugin answers
//!   signs anything.
//! - Event type: the first event's `resource_type` and `action` joined by a dot
//!   (`payments.confirmed`). A webhook batches several events; they are stored as one event.
//!   Idempotency key: the body's `meta.webhook_id` (the webhook, kept when GoCardless retries
//!   it), or, when there is no `meta`, the first event's `id`.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

/// The longest event type the host takes (1 KiB).
const MAX_LEN: usize = 1024;

const SIGNATURE: HmacHeader = HmacHeader {
    name: "webhook-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct GoCardless;

impl Plugin for GoCardless {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "gocardless",
            env!("CARGO_PKG_VERSION"),
            "GoCardless webhooks, signed with Webhook-Signature",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        // A genuine body GoCardless did not shape as documented is stored, without a type.
        let [resource, action, webhook_id, event_id] = request.json_values([
            "/events/0/resource_type",
            "/events/0/action",
            "/meta/webhook_id",
            "/events/0/id",
        ]);
        let event_type = match (resource, action) {
            (Some(resource), Some(action)) => Some(format!("{resource}.{action}")),
            _ => None,
        };
        let key = webhook_id.or(event_id);
        Verdict::accept()
            .with_event_type(event_type.as_deref().filter(|t| t.len() <= MAX_LEN))
            .with_idempotency_key(key.as_deref().filter(|k| !k.is_empty()))
    }
}

/// GoCardless's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for GoCardless {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(GoCardless);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        Request::post(body).with_header("Webhook-Signature", &signature)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<GoCardless>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = GoCardless::describe();
        assert_eq!(info.name, "gocardless");
        assert!(info.config[0].name == "secret" && info.config[0].required);
    }

    #[test]
    fn type_and_key_from_the_body() {
        let config = Config::with_secret("k");
        let body = r#"{"events":[{"id":"EV1","resource_type":"payments","action":"confirmed"}],
                       "meta":{"webhook_id":"WB1"}}"#;
        assert_eq!(
            GoCardless::verify(&signed(body, "k"), &config),
            Verdict::accept()
                .with_event_type("payments.confirmed")
                .with_idempotency_key("WB1")
        );
        let body = r#"{"events":[{"id":"EV1","resource_type":"payments"}]}"#;
        assert_eq!(
            GoCardless::verify(&signed(body, "k"), &config),
            Verdict::accept().with_idempotency_key("EV1")
        );
        for body in [
            "",
            "[]",
            r#"{"events":{}}"#,
            r#"{"events":[],"meta":{}}"#,
            r#"{"events":[{"id":{}}]}"#,
            r#"{"events":[{"id":""}]}"#,
        ] {
            assert_eq!(
                GoCardless::verify(&signed(body, "k"), &config),
                Verdict::accept(),
                "{body:?}"
            );
        }
    }

    #[test]
    fn malformed_and_unconfigured() {
        let config = Config::with_secret("k");
        for header in ["", "dummy", "sha256=00", "abcd"] {
            let request = Request::post("{}").with_header("Webhook-Signature", header);
            assert_eq!(
                GoCardless::verify(&request, &config),
                Verdict::reject("invalid signature")
            );
        }
        assert_eq!(
            GoCardless::verify(&signed("{}", "k"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
