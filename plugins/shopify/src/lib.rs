//! Shopify: `X-Shopify-Hmac-SHA256: <base64 HMAC-SHA256(secret, body)>`. The event type is
//! `X-Shopify-Topic` and the idempotency key `X-Shopify-Webhook-Id`.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-shopify-hmac-sha256",
    prefix: "",
    alphabet: Alphabet::Base64,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Shopify;

impl Plugin for Shopify {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "shopify",
            env!("CARGO_PKG_VERSION"),
            "Shopify webhooks, signed with X-Shopify-Hmac-SHA256",
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
        Verdict::accept()
            .with_event_type(request.header("x-shopify-topic"))
            .with_idempotency_key(request.header("x-shopify-webhook-id"))
    }
}

/// Shopify's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Shopify {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Shopify);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Shopify>(include_str!("../cases.json"));
    }

    use base64::Engine;
    use hmac::Mac;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Request::post(body).with_header("X-Shopify-Hmac-SHA256", &signature)
    }

    #[test]
    fn describes_itself() {
        let info = Shopify::describe();
        assert_eq!(info.name, "shopify");
        assert!(info.config.iter().any(|f| f.name == "secret" && f.required));
    }

    #[test]
    fn valid_signatures_accept_with_topic_and_webhook_id() {
        let request = signed(r#"{"id":1}"#, "s")
            .with_header("X-Shopify-Topic", "orders/create")
            .with_header(
                "X-Shopify-Webhook-Id",
                "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
            );
        assert_eq!(
            Shopify::verify(&request, &Config::with_secret("s")),
            Verdict::accept()
                .with_event_type("orders/create")
                .with_idempotency_key("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043")
        );
        assert_eq!(
            Shopify::verify(&signed("", "s"), &Config::with_secret("s")),
            Verdict::accept()
        );
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::with_secret("s");
        let invalid = Verdict::reject("invalid signature");
        for header in ["", "not base64!", "AAAA"] {
            let request = Request::post("{}").with_header("X-Shopify-Hmac-SHA256", header);
            assert_eq!(Shopify::verify(&request, &config), invalid, "{header:?}");
        }
    }

    #[test]
    fn fails_closed_without_a_secret() {
        assert_eq!(
            Shopify::verify(&signed("{}", "s"), &Config::default()),
            Verdict::reject("plugin misconfigured: secret is required")
        );
    }
}
