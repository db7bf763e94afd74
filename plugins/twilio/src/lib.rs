//! Twilio webhooks (Voice, Messaging, status callbacks), with the account's auth token.
//!
//! - Header: `X-Twilio-Signature: <base64 HMAC-SHA1(auth token, data)>`.
//! - Signed bytes: the full URL Twilio called (`request.url`, query included), then, for a
//!   form body (`application/x-www-form-urlencoded`), every POST parameter's name and value
//!   concatenated, sorted by name (then value; an identical pair counts once, as in Twilio's
//!   libraries). For a JSON body, the URL carries `bodySHA256` (hex SHA-256 of the raw body):
//!   the signature is over the URL alone, and the body must match that hash.
//!   The URL is used exactly as Inlet's public URL gives it; Twilio's libraries also try it
//!   with the default port added or removed, which this plugin does not.
//! - Replay window: none; Twilio signs no timestamp.
//! - Event type: the `EventType` parameter when the form has one (Conversations, TaskRouter,
//!   Sync), else Inlet's default. Idempotency key: the `I-Twilio-Idempotency-Token` header
//!   (the same on Twilio's retries).
//! - Handshake: none; every verdict is an accept or a reject, so nothing is ever signed for
//!   a caller.

use std::collections::BTreeSet;

use inlet_sdk::crypto::{HashAlgorithm, constant_time_eq, digest};
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, base64_decode, hex_decode};

const MAX_KEY_LEN: usize = 1024;

pub struct Twilio;

/// What Twilio signs: the URL, then the sorted form parameters unless the URL carries
/// `bodySHA256`.
fn signed_data(request: &Request, json: bool) -> Vec<u8> {
    let mut data = request.url.clone();
    if !json {
        let params: BTreeSet<(String, String)> = request.form().into_iter().collect();
        for (name, value) in params {
            data.push_str(&name);
            data.push_str(&value);
        }
    }
    data.into_bytes()
}

impl Plugin for Twilio {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "twilio",
            env!("CARGO_PKG_VERSION"),
            "Twilio webhooks, signed with X-Twilio-Signature (HMAC-SHA1 of the URL and parameters)",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let Some(signature) = request.header("x-twilio-signature").and_then(base64_decode) else {
            return Verdict::reject("missing or malformed signature");
        };
        let body_hash = request.query_param("bodySHA256");
        let json = body_hash.is_some();
        let data = signed_data(request, json);
        let genuine = config.signed_by_any_secret(HashAlgorithm::Sha1, &data, &signature);
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        if let Some(hash) = body_hash {
            let actual = digest(HashAlgorithm::Sha256, &request.body);
            if !hex_decode(&hash).is_some_and(|hash| constant_time_eq(&hash, &actual)) {
                return Verdict::reject("body does not match bodySHA256");
            }
        }
        let event_type = if !json {
            request
                .form()
                .into_iter()
                .find(|(k, _)| k == "EventType")
                .map(|(_, v)| v)
        } else {
            None
        };
        Verdict::accept()
            .with_event_type(event_type.as_deref().filter(|v| v.len() <= MAX_KEY_LEN))
            .with_idempotency_key(
                request
                    .header("i-twilio-idempotency-token")
                    .filter(|v| v.len() <= MAX_KEY_LEN),
            )
    }
}

/// Twilio's side, for the conformance cases: HMAC-SHA1 of the URL and, unless the URL has
/// `bodySHA256`, the sorted form parameters.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Twilio {
    fn sign(request: &mut Request, config: &Config) {
        let token = config.secret().unwrap_or_default();
        let json = request.query_param("bodySHA256").is_some();
        let mut data = request.url.clone();
        if !json {
            let mut params = request.form();
            params.sort();
            params.dedup();
            for (name, value) in params {
                data.push_str(&name);
                data.push_str(&value);
            }
        }
        let signature =
            inlet_sdk::crypto::hmac(HashAlgorithm::Sha1, token.as_bytes(), data.as_bytes());
        request.headers.push((
            "x-twilio-signature".into(),
            inlet_sdk::base64_encode(&signature),
        ));
    }
}

inlet_sdk::export_plugin!(Twilio);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Twilio>(include_str!("../cases.json"));
    }

    #[test]
    fn malformed_signatures_and_hashes_are_rejected() {
        let config = Config::with_secret("12345");
        for signature in ["", "!!!", "RSOYDt4T1cUTdK1PDd93"] {
            let request = Request::post("a=1").with_header("x-twilio-signature", signature);
            assert!(matches!(
                Twilio::verify(&request, &config),
                Verdict::Reject(_)
            ));
        }
        // A bodySHA256 that is not hex never matches.
        let url = "https://mycompany.com/myapp.php?bodySHA256=zz";
        let signature =
            inlet_sdk::base64_encode(&hmac(HashAlgorithm::Sha1, b"12345", url.as_bytes()));
        let request = Request::post("{}")
            .at(url)
            .with_header("x-twilio-signature", &signature);
        assert_eq!(
            Twilio::verify(&request, &config),
            Verdict::reject("body does not match bodySHA256")
        );
    }
}
