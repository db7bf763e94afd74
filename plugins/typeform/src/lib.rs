//! Typeform webhooks with a secret.
//!
//! - Header checked: `Typeform-Signature: sha256=<base64 HMAC-SHA256(secret, body)>`, over the
//!   raw body, with any active secret (rotation).
//! - Replay window: none (Typeform signs no timestamp).
//! - Handshake: none; every verdict is an accept or a reject, and nothing is ever signed.
//! - Event type and idempotency key: the body's `event_type` (`form_response`, ...) and
//!   `event_id`, read from the JSON object after the signature is verified. A genuine body
//!   that is not a JSON object is still accepted, without them.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "typeform-signature",
    prefix: "sha256=",
    alphabet: Alphabet::Base64,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Typeform;

impl Plugin for Typeform {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "typeform",
            env!("CARGO_PKG_VERSION"),
            "Typeform webhooks, signed with Typeform-Signature (HMAC-SHA256, base64)",
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
        let [kind, id] = request.json_values(["/event_type", "/event_id"]);
        Verdict::accept()
            .with_event_type(kind.as_deref().filter(|t| !t.is_empty()))
            .with_idempotency_key(id.as_deref().filter(|k| !k.is_empty()))
    }
}

/// Typeform's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Typeform {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Typeform);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Typeform>(include_str!("../cases.json"));
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = Request::post("{}").with_header("Typeform-Signature", "sha256=AA==");
        assert_eq!(
            Typeform::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    fn signed(body: &str) -> Request {
        let signature = inlet_sdk::base64_encode(&hmac_sha256(b"s", body.as_bytes()));
        Request::post(body).with_header("Typeform-Signature", &format!("sha256={signature}"))
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::with_secret("s");
        let good = inlet_sdk::base64_encode(&hmac_sha256(b"s", b"{}"));
        for header in [
            String::new(),
            "sha256=".into(),
            "sha256=!!".into(),
            good.clone(),
            format!("sha1={good}"),
            format!("sha256={}", &good[..20]),
        ] {
            let request = Request::post("{}").with_header("Typeform-Signature", &header);
            assert_eq!(
                Typeform::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }

    #[test]
    fn ids_come_only_from_a_json_object_and_are_bounded() {
        let config = Config::with_secret("s");
        for body in [
            "not json",
            "[1]",
            r#"{"event_id":[1]}"#,
            r#"{"event_id":""}"#,
        ] {
            assert_eq!(
                Typeform::verify(&signed(body), &config),
                Verdict::accept(),
                "{body}"
            );
        }
        let long = format!(r#"{{"event_id":"{}","event_type":"x"}}"#, "a".repeat(1025));
        assert_eq!(
            Typeform::verify(&signed(&long), &config),
            Verdict::accept().with_event_type("x")
        );
    }
}
