//! Twitter (X) Account Activity webhooks; the secret is the app's consumer secret.
//!
//! - `GET ?crc_token=<t>` (the CRC challenge) is answered `200` with
//!   `{"response_token":"sha256=<base64 HMAC-SHA256(secret, t)>"}` and stores nothing.
//! - A `POST` carries `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(secret, body)>`.
//!   Its event type is the body's `*_events` key (`tweet_create_events`, ...), if any.

use std::collections::BTreeMap;

use inlet_sdk::crypto::{constant_time_eq, hmac_sha256};
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, base64_decode, base64_encode};
use serde_json::value::RawValue;

pub struct Twitter;

impl Plugin for Twitter {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "twitter",
            env!("CARGO_PKG_VERSION"),
            "Twitter/X Account Activity webhooks, answering the CRC challenge",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        let Some(secret) = config.secret() else {
            return Verdict::misconfigured("secret");
        };
        if request.method.eq_ignore_ascii_case("GET") {
            let Some(token) = request.query_param("crc_token") else {
                return Verdict::reject("missing crc_token");
            };
            let answer = base64_encode(&hmac_sha256(secret.as_bytes(), token.as_bytes()));
            let body = serde_json::json!({ "response_token": format!("sha256={answer}") });
            return Verdict::respond_json(200, body.to_string());
        }
        let Some(header) = request.header("x-twitter-webhooks-signature") else {
            return Verdict::reject("missing signature");
        };
        let expected = hmac_sha256(secret.as_bytes(), &request.body);
        match header.strip_prefix("sha256=").and_then(base64_decode) {
            Some(signature) if constant_time_eq(&signature, &expected) => {
                Verdict::accept().with_event_type(event_type(&request.body).as_deref())
            }
            _ => Verdict::reject("invalid signature"),
        }
    }
}

/// The first top-level key ending in `_events`, without building the whole document.
fn event_type(body: &[u8]) -> Option<String> {
    let object: BTreeMap<String, &RawValue> = serde_json::from_slice(body).ok()?;
    object.into_keys().find(|key| key.ends_with("_events"))
}

inlet_sdk::export_plugin!(Twitter);

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use hmac::Mac;

    /// Computed independently of the plugin (and of the SDK's crypto).
    fn independent_hmac(secret: &str, data: &[u8]) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(data);
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    fn signed(body: &str, secret: &str) -> Request {
        let signature = format!("sha256={}", independent_hmac(secret, body.as_bytes()));
        Request::post(body).with_header("x-twitter-webhooks-signature", &signature)
    }

    #[test]
    fn describes_itself() {
        assert_eq!(Twitter::describe().name, "twitter");
    }

    #[test]
    fn crc_challenge_matches_an_independent_hmac() {
        let request = Request::get("crc_token=abc%2B123%2F%3D&other=1");
        let Verdict::Respond {
            status,
            headers,
            body,
        } = Twitter::verify(&request, &Config::with_secret("consumer-secret"))
        else {
            panic!("expected a response");
        };
        assert_eq!(status, 200);
        assert_eq!(
            headers,
            [("content-type".to_string(), "application/json".to_string())]
        );
        let expected = format!(
            r#"{{"response_token":"sha256={}"}}"#,
            independent_hmac("consumer-secret", b"abc+123/=")
        );
        assert_eq!(String::from_utf8(body).unwrap(), expected);
    }

    #[test]
    fn crc_without_a_token_or_secret_is_rejected() {
        let config = Config::with_secret("k");
        assert_eq!(
            Twitter::verify(&Request::get(""), &config),
            Verdict::reject("missing crc_token")
        );
        assert_eq!(
            Twitter::verify(&Request::get("crc=1"), &config),
            Verdict::reject("missing crc_token")
        );
        assert_eq!(
            Twitter::verify(&Request::get("crc_token=t"), &Config::default()),
            Verdict::reject("plugin misconfigured: secret is required")
        );
    }

    #[test]
    fn signed_posts_are_accepted_with_their_event_type() {
        let config = Config::with_secret("k");
        let body = r#"{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"1"}]}"#;
        assert_eq!(
            Twitter::verify(&signed(body, "k"), &config),
            Verdict::accept().with_event_type("tweet_create_events")
        );
        assert_eq!(
            Twitter::verify(&signed("{}", "k"), &config),
            Verdict::accept()
        );
        // A body that is not a JSON object is still accepted once the signature holds.
        assert_eq!(
            Twitter::verify(&signed("[1]", "k"), &config),
            Verdict::accept()
        );
        assert_eq!(
            Twitter::verify(&signed("", "k"), &config),
            Verdict::accept()
        );
    }

    #[test]
    fn tampered_missing_and_wrong_secret_are_rejected() {
        let config = Config::with_secret("k");
        let invalid = Verdict::reject("invalid signature");
        let mut tampered = signed("{}", "k");
        tampered.body = b"{ }".to_vec();
        assert_eq!(Twitter::verify(&tampered, &config), invalid);
        assert_eq!(Twitter::verify(&signed("{}", "other"), &config), invalid);
        assert_eq!(
            Twitter::verify(&Request::post("{}"), &config),
            Verdict::reject("missing signature")
        );
        let unprefixed = Request::post("{}").with_header(
            "x-twitter-webhooks-signature",
            &independent_hmac("k", b"{}"),
        );
        assert_eq!(Twitter::verify(&unprefixed, &config), invalid);
    }
}
