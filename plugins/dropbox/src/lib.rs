//! Dropbox webhooks; the secret is the app secret.
//!
//! - A `POST` notification carries `X-Dropbox-Signature: <hex HMAC-SHA256(app secret, body)>`
//!   over the raw body. Dropbox sends no timestamp (no replay window) and no delivery id (no
//!   idempotency key). The event type is `list_folder` (or the legacy `delta`) after the
//!   body's top-level key; a notification only names the accounts whose files changed.
//! - The verification request, `GET ?challenge=<c>`, is answered `200` with `<c>` as
//!   `text/plain` and `X-Content-Type-Options: nosniff` (Dropbox's advice against reflected
//!   XSS), only for a challenge of 1 to 128 ASCII letters, digits, `-` or `_`. It is not a
//!   signing oracle: it signs nothing, it echoes a bounded token. Dropbox does not sign the
//!   challenge, so anyone can have it echoed, which gives them nothing.

use std::collections::BTreeMap;

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};
use serde_json::value::RawValue;

const MAX_CHALLENGE_LEN: usize = 128;

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-dropbox-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Dropbox;

impl Plugin for Dropbox {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "dropbox",
            env!("CARGO_PKG_VERSION"),
            "Dropbox webhooks, signed with X-Dropbox-Signature, answering the challenge",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        if request.method.eq_ignore_ascii_case("GET") {
            return match request.query_param("challenge") {
                Some(challenge) if is_challenge(&challenge) => {
                    Verdict::respond(200, "text/plain", challenge)
                        .with_header("X-Content-Type-Options", "nosniff")
                }
                Some(_) => Verdict::reject("malformed challenge"),
                None => Verdict::reject("missing challenge"),
            };
        }
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        let object = serde_json::from_slice::<BTreeMap<String, &RawValue>>(&request.body)
            .unwrap_or_default();
        let event_type = ["list_folder", "delta"]
            .into_iter()
            .find(|key| object.contains_key(*key));
        Verdict::accept().with_event_type(event_type)
    }
}

fn is_challenge(challenge: &str) -> bool {
    (1..=MAX_CHALLENGE_LEN).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Dropbox's side, for the conformance cases: it signs the body with the app secret.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Dropbox {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Dropbox);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        Request::post(body).with_header(
            "X-Dropbox-Signature",
            &hex::encode(mac.finalize().into_bytes()),
        )
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Dropbox>(include_str!("../cases.json"));
    }

    #[test]
    fn an_independent_signature_verifies() {
        let config = Config::with_secret("app-secret");
        let body = r#"{"list_folder":{"accounts":["dbid:A"]},"delta":{"users":[1]}}"#;
        assert_eq!(
            Dropbox::verify(&signed(body, "app-secret"), &config),
            Verdict::accept().with_event_type("list_folder")
        );
        assert_eq!(
            Dropbox::verify(&signed(r#"{"delta":{"users":[1]}}"#, "app-secret"), &config),
            Verdict::accept().with_event_type("delta")
        );
        for body in ["", "[]", "{}"] {
            assert_eq!(
                Dropbox::verify(&signed(body, "app-secret"), &config),
                Verdict::accept()
            );
        }
    }

    #[test]
    fn the_challenge_is_echoed_only_when_bounded_and_plain() {
        let config = Config::with_secret("app-secret");
        let get = |query: &str| Dropbox::verify(&Request::get(query), &config);
        let longest = "a".repeat(MAX_CHALLENGE_LEN);
        assert_eq!(
            get(&format!("challenge={longest}")),
            Verdict::respond(200, "text/plain", longest.clone())
                .with_header("X-Content-Type-Options", "nosniff")
        );
        for bad in [
            "challenge=",
            "challenge=a+b",
            "challenge=%3Cb%3E",
            &format!("challenge={longest}a"),
        ] {
            assert_eq!(get(bad), Verdict::reject("malformed challenge"), "{bad}");
        }
        assert_eq!(get(""), Verdict::reject("missing challenge"));
        assert_eq!(
            Dropbox::verify(&Request::get("challenge=abc123"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
