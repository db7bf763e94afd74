//! Jira Cloud admin webhooks registered with a secret (Atlassian's "secure admin webhooks").
//!
//! - Header checked: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`, the raw body as
//!   received. Only the `sha256=` method is accepted (Jira Cloud sends no other); any active
//!   secret (rotation) may have signed it.
//! - Jira signs no timestamp, so there is no replay window: a replay is caught by the
//!   idempotency key instead.
//! - No handshake: every verdict is an accept or a reject, so nothing the plugin answers signs
//!   anything.
//! - Event type: the body's `webhookEvent` (`jira:issue_created`, `comment_updated`, ...).
//!   Idempotency key: `X-Atlassian-Webhook-Identifier`, which Jira keeps across retries of a
//!   delivery.
//! - Webhooks registered without a secret carry no signature and are rejected (fail closed).

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-hub-signature",
    prefix: "sha256=",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

/// The longest `X-Atlassian-Webhook-Identifier` taken (the host refuses longer keys).
const MAX_LEN: usize = 1024;

pub struct Jira;

impl Plugin for Jira {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "jira",
            env!("CARGO_PKG_VERSION"),
            "Jira Cloud admin webhooks, signed with X-Hub-Signature (HMAC-SHA256)",
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
        // The signature is genuine; a body that is not the JSON Jira documents still is what
        // Jira sent, so it is stored, only without a type.
        let [event_type] = request.json_values(["/webhookEvent"]);
        Verdict::accept()
            .with_event_type(event_type.as_deref())
            .with_idempotency_key(
                request
                    .header("x-atlassian-webhook-identifier")
                    .filter(|k| k.len() <= MAX_LEN),
            )
    }
}

/// Jira's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Jira {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Jira);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    fn signed(body: &str, secret: &str) -> Request {
        let signature = inlet_sdk::hex_encode(&hmac_sha256(secret.as_bytes(), body.as_bytes()));
        Request::post(body).with_header("X-Hub-Signature", &format!("sha256={signature}"))
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Jira>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = Jira::describe();
        assert_eq!(info.name, "jira");
        assert!(info.config[0].name == "secret" && info.config[0].required);
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let config = Config::with_secret("s");
        for header in ["", "sha256=", "sha256=zz", "sha1=abcd", "abcd", "SHA256=00"] {
            let request = Request::post("{}").with_header("X-Hub-Signature", header);
            assert_eq!(
                Jira::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = signed("{}", "s");
        assert_eq!(
            Jira::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn signed_bodies_that_are_not_json_are_stored_without_a_type() {
        let config = Config::with_secret("s");
        assert_eq!(
            Jira::verify(&signed("not json", "s"), &config),
            Verdict::accept()
        );
        let long = format!(r#"{{"webhookEvent":"{}"}}"#, "a".repeat(MAX_LEN + 1));
        assert_eq!(
            Jira::verify(&signed(&long, "s"), &config),
            Verdict::accept()
        );
    }
}
