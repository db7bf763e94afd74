//! LINE Messaging API webhooks; the secret is the channel secret.
//!
//! - Header checked: `x-line-signature`, the standard base64 HMAC-SHA256 of the raw body
//!   with the channel secret. A signature made with any active secret is accepted
//!   (rotation: LINE lets a channel secret be reissued).
//! - Replay window: none. LINE signs no timestamp (the events' `timestamp` is not checked
//!   against the receive time, because LINE redelivers failed events later); the
//!   `webhookEventId` below lets Inlet flag a replay as a duplicate.
//! - Handshake: none of its own. The console's "Verify" button sends an ordinary signed
//!   POST whose `events` is empty; it is checked like any other request and accepted
//!   (stored, answered 200) with no event type or key. Nothing the plugin answers signs
//!   anything.
//! - Event type and idempotency key: the first event's `type` (`message`, `follow`, ...)
//!   and `webhookEventId` (a ULID, kept across redeliveries). A body may carry several
//!   events; they are stored as one event, keyed by the first.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};
const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-line-signature",
    prefix: "",
    alphabet: Alphabet::Base64,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Line;

impl Plugin for Line {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "line",
            env!("CARGO_PKG_VERSION"),
            "LINE Messaging API webhooks, signed with x-line-signature",
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
        // A genuine body LINE did not shape as documented is still stored, without a type.
        let [kind, id] = request.json_values(["/events/0/type", "/events/0/webhookEventId"]);
        Verdict::accept()
            .with_event_type(kind.as_deref().filter(|t| !t.is_empty()))
            .with_idempotency_key(id.as_deref().filter(|k| !k.is_empty()))
    }
}

/// LINE's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Line {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Line);

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use hmac::Mac;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Request::post(body).with_header("x-line-signature", &signature)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Line>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = Line::describe();
        assert_eq!(info.name, "line");
        assert!(info.config[0].name == "secret" && info.config[0].required);
    }

    #[test]
    fn the_first_event_names_the_request() {
        let body = r#"{"destination":"U1","events":[
            {"type":"follow","webhookEventId":"01A"},{"type":"message","webhookEventId":"01B"}]}"#;
        assert_eq!(
            Line::verify(&signed(body, "k"), &Config::with_secret("k")),
            Verdict::accept()
                .with_event_type("follow")
                .with_idempotency_key("01A")
        );
    }

    #[test]
    fn odd_bodies_and_headers() {
        let config = Config::with_secret("k");
        for body in [
            "",
            "[]",
            r#"{"events":{}}"#,
            r#"{"events":[1]}"#,
            r#"{"events":[{"type":[2]}]}"#,
            r#"{"events":[{"type":""}]}"#,
        ] {
            assert_eq!(
                Line::verify(&signed(body, "k"), &config),
                Verdict::accept(),
                "{body:?}"
            );
        }
        let long = format!(r#"{{"events":[{{"type":"{}"}}]}}"#, "a".repeat(1025));
        assert_eq!(
            Line::verify(&signed(&long, "k"), &config),
            Verdict::accept()
        );
        for header in ["", "!!", "sha256=abc", "t7Hn4ZDHqs6e"] {
            let request = Request::post("{}").with_header("x-line-signature", header);
            assert_eq!(
                Line::verify(&request, &config),
                Verdict::reject("invalid signature")
            );
        }
        assert_eq!(
            Line::verify(&signed("{}", "k"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
