//! Trello webhooks; the secret is the application's OAuth secret (not an API token).
//!
//! - A `POST` carries `X-Trello-Webhook: <base64 HMAC-SHA1(secret, body ++ callbackURL)>`:
//!   the raw body followed by the callback URL exactly as it was given when the webhook was
//!   created. That is the URL Trello called, `request.url`, unless the `callback_url` field
//!   says otherwise (when the webhook was registered with a URL that differs from the one
//!   Inlet sees, e.g. behind a rewriting proxy). Trello sends no timestamp (no replay window).
//! - When a webhook is created Trello checks the callback URL with a `HEAD` request and wants
//!   a `200`. Inlet hands the plugin `GET`s (a `HEAD` may not reach it), so a `GET` or `HEAD`
//!   is answered `200` with an empty body: it signs nothing and stores nothing, so it is no
//!   oracle and no way in.
//! - The event type is the body's `action.type` (`updateCard`, `createCard`, ...) and the
//!   idempotency key `action.id`, the action's id, which a redelivery keeps.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, ConfigField, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-trello-webhook",
    prefix: "",
    alphabet: Alphabet::Base64,
    algorithm: HashAlgorithm::Sha1,
};

pub struct Trello;

impl Plugin for Trello {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "trello",
            env!("CARGO_PKG_VERSION"),
            "Trello webhooks, signed with X-Trello-Webhook over the body and callback URL",
        )
        .secret()
        .field(ConfigField {
            name: "callback_url".into(),
            description: "the callbackURL the webhook was created with, when it is not the \
                          URL Inlet receives the request at"
                .into(),
            required: false,
            secret: false,
        })
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        if request.method.eq_ignore_ascii_case("GET") || request.method.eq_ignore_ascii_case("HEAD")
        {
            // Trello's check of the callback URL: a bare 200.
            return Verdict::Respond {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
                state: None,
            };
        }
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &signed_bytes(request, config)) {
            return reject;
        }
        let [event_type, id] = request
            .json_values(["/action/type", "/action/id"])
            .map(|v| v.filter(|v| !v.is_empty()));
        Verdict::accept()
            .with_event_type(event_type.as_deref())
            .with_idempotency_key(id.as_deref())
    }
}

/// The raw body followed by the callback URL.
fn signed_bytes(request: &Request, config: &Config) -> Vec<u8> {
    let callback_url = config.get("callback_url").unwrap_or(&request.url);
    let mut signed = request.body.clone();
    signed.extend_from_slice(callback_url.as_bytes());
    signed
}

/// Trello's side, for the conformance cases: it signs the body and the callback URL it
/// was given.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Trello {
    fn sign(request: &mut Request, config: &Config) {
        let signed = signed_bytes(request, config);
        SIGNATURE.sign(request, config, &signed);
    }
}

inlet_sdk::export_plugin!(Trello);

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use hmac::Mac;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, url: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{body}{url}").as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        Request::post(body)
            .at(url)
            .with_header("X-Trello-Webhook", &signature)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Trello>(include_str!("../cases.json"));
    }

    #[test]
    fn the_signature_covers_the_callback_url() {
        let body = r#"{"action":{"id":"a1","type":"updateCard"},"model":{}}"#;
        let url = "https://inlet.example/ingest/t?board=1";
        let config = Config::with_secret("oauth-secret");
        let expected = Verdict::accept()
            .with_event_type("updateCard")
            .with_idempotency_key("a1");
        assert_eq!(
            Trello::verify(&signed(body, url, "oauth-secret"), &config),
            expected
        );
        // Signed for another URL: refused, unless that is the configured callback URL.
        let elsewhere = signed(body, "https://other.example/cb", "oauth-secret").at(url);
        assert_eq!(
            Trello::verify(&elsewhere, &config),
            Verdict::reject("invalid signature")
        );
        let configured = config.with_field("callback_url", "https://other.example/cb");
        assert_eq!(Trello::verify(&elsewhere, &configured), expected);
    }

    #[test]
    fn the_url_check_is_a_bare_200() {
        let config = Config::with_secret("oauth-secret");
        for method in ["GET", "HEAD"] {
            let mut request = Request::get("");
            request.method = method.into();
            assert_eq!(
                Trello::verify(&request, &config),
                Verdict::Respond {
                    status: 200,
                    headers: vec![],
                    body: vec![],
                    state: None
                }
            );
        }
        assert_eq!(
            Trello::verify(&Request::get(""), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn odd_bodies_and_headers() {
        let config = Config::with_secret("k");
        let url = inlet_sdk::TEST_URL;
        for body in [
            "",
            "[]",
            r#"{"action":1}"#,
            r#"{"action":{"type":{}}}"#,
            r#"{"model":{}}"#,
        ] {
            assert_eq!(
                Trello::verify(&signed(body, url, "k"), &config),
                Verdict::accept(),
                "{body}"
            );
        }
        for header in ["", "!!", "AAAA"] {
            let request = Request::post("{}").with_header("X-Trello-Webhook", header);
            assert_eq!(
                Trello::verify(&request, &config),
                Verdict::reject("invalid signature")
            );
        }
    }
}
