//! Twitter (X) Account Activity webhooks; the secret is the app's consumer secret.
//!
//! - `GET ?crc_token=<t>` (the CRC challenge) is answered `200` with
//!   `{"response_token":"sha256=<base64 HMAC-SHA256(secret, t)>"}` and stores nothing.
//! - A `POST` carries `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(secret, body)>`.
//!   Its event type is the body's `*_events` key (`tweet_create_events`, ...), if any.
//!
//! The two use the same key and construction, so a CRC answer for a token equal to a forged
//! body would be a valid POST signature for that body (review finding H2). The plugin keeps
//! the two inputs disjoint: it signs only tokens of Twitter's shape (base64 characters, never
//! a space or `{`), and accepts only POST bodies that parse as a JSON object (whose first
//! non-space character is `{`).

use std::collections::BTreeMap;

use inlet_sdk::crypto::{HashAlgorithm, hmac_sha256};
use inlet_sdk::{
    Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict, base64_encode,
};
use serde_json::value::RawValue;

/// The signature of a `POST`.
const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-twitter-webhooks-signature",
    prefix: "sha256=",
    alphabet: Alphabet::Base64,
    algorithm: HashAlgorithm::Sha256,
};

/// The longest CRC token answered. Twitter's tokens are base64 of a UUID string, so 48
/// characters (e.g. `M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0`). 128 leaves room for
/// a longer nonce should Twitter change it, while keeping the oracle to short, fixed-alphabet
/// strings. The alphabet, not the length, is what keeps a token from being a JSON object.
const MAX_CRC_TOKEN_LEN: usize = 128;

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
            if !is_crc_token(&token) {
                return Verdict::reject("malformed crc_token");
            }
            let answer = base64_encode(&hmac_sha256(secret.as_bytes(), token.as_bytes()));
            let body = serde_json::json!({ "response_token": format!("sha256={answer}") });
            return Verdict::respond_json(200, body.to_string());
        }
        // Any active secret (rotation) may have signed it; the CRC answers with the first,
        // the consumer secret Twitter holds now.
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        // Parsed for real (not a look at the first and last bytes): `{} {}` is no object.
        let Ok(object) = serde_json::from_slice::<BTreeMap<String, &RawValue>>(&request.body)
        else {
            return Verdict::reject("body is not a JSON object");
        };
        // The first, in key order, top-level key ending in `_events`.
        let event_type = object.keys().find(|key| key.ends_with("_events"));
        Verdict::accept().with_event_type(event_type.map(String::as_str))
    }
}

/// Twitter's token shape: 1 to [`MAX_CRC_TOKEN_LEN`] characters of the standard or URL-safe
/// base64 alphabet, with at most two `=` of padding at the end.
fn is_crc_token(token: &str) -> bool {
    let unpadded = token.trim_end_matches('=');
    !unpadded.is_empty()
        && token.len() <= MAX_CRC_TOKEN_LEN
        && token.len() - unpadded.len() <= 2
        && unpadded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

/// Twitter's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Twitter {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Twitter);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Twitter>(include_str!("../cases.json"));
    }
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

    /// A CRC challenge for `token`, every byte percent-encoded.
    fn crc(token: &str) -> Request {
        let encoded: String = token.bytes().map(|b| format!("%{b:02X}")).collect();
        Request::get(&format!("crc_token={encoded}"))
    }

    /// The `response_token` the plugin answers a CRC with, if it answers.
    fn crc_answer(token: &str, config: &Config) -> Option<String> {
        let Verdict::Respond { body, .. } = Twitter::verify(&crc(token), config) else {
            return None;
        };
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        Some(body["response_token"].as_str()?.to_string())
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
            state: None,
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
    fn crc_answers_only_tokens_of_twitters_shape() {
        let config = Config::with_secret("k");
        let longest = "a".repeat(MAX_CRC_TOKEN_LEN);
        for token in [
            "M2RkODJkZmMtYjlkYi00NmQ4LTk0MGUtM2JjYzkwM2Q4MjQ0", // a real token: 48 characters
            "A",
            "challenge-123",
            "a+b/c-d_e",
            "YQ==",
            "YWI=",
            &longest,
        ] {
            let expected = format!("sha256={}", independent_hmac("k", token.as_bytes()));
            assert_eq!(crc_answer(token, &config), Some(expected), "{token:?}");
        }
        let too_long = "a".repeat(MAX_CRC_TOKEN_LEN + 1);
        let padded_too_long = format!("{}=", "a".repeat(MAX_CRC_TOKEN_LEN));
        for token in [
            "",
            "=",
            "==",
            "YQ===",
            "a=b",
            "a b",
            "a.b",
            "a%b",
            "a\0b",
            "é",
            r#"{}"#,
            r#"{"a":1}"#,
            "[1]",
            r#""x""#,
            &too_long,
            &padded_too_long,
        ] {
            assert_eq!(
                Twitter::verify(&crc(token), &config),
                Verdict::reject("malformed crc_token"),
                "{token:?}"
            );
        }
        // Unencoded `+` decodes to a space, as in any query string: not a token.
        assert_eq!(
            Twitter::verify(&Request::get("crc_token=a+b"), &config),
            Verdict::reject("malformed crc_token")
        );
    }

    /// Review finding H2: ask the CRC to sign a forged body, then POST that body with the
    /// CRC's answer as its signature.
    #[test]
    fn the_crc_cannot_sign_a_post() {
        let config = Config::with_secret("consumer-secret");
        let forge = |body: &str| -> Verdict {
            match crc_answer(body, &config) {
                Some(signature) => Twitter::verify(
                    &Request::post(body).with_header("x-twitter-webhooks-signature", &signature),
                    &config,
                ),
                None => Verdict::reject("the CRC refused to sign"),
            }
        };
        // A forged event: the CRC refuses a token that is not base64, so there is no signature.
        let forged = r#"{"for_user_id":"2244994945","tweet_create_events":[{"id_str":"1"}]}"#;
        assert_eq!(
            Twitter::verify(&crc(forged), &config),
            Verdict::reject("malformed crc_token")
        );
        assert_eq!(forge(forged), Verdict::reject("the CRC refused to sign"));
        // Token-shaped bodies that are JSON are signed, but they are never objects, so the
        // signed POST is refused all the same.
        for body in ["1", "123", "true", "null", "false"] {
            assert!(crc_answer(body, &config).is_some(), "{body}");
            assert_eq!(
                forge(body),
                Verdict::reject("body is not a JSON object"),
                "{body}"
            );
        }
    }

    #[test]
    fn the_crc_answer_uses_the_current_secret() {
        let config = Config {
            secrets: vec!["current".into(), "previous".into()],
            ..Config::default()
        };
        let expected = format!("sha256={}", independent_hmac("current", b"abc"));
        assert_eq!(crc_answer("abc", &config), Some(expected));
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
        assert_eq!(
            Twitter::verify(&signed(" \n{\"a\": 1}\n ", "k"), &config),
            Verdict::accept()
        );
    }

    #[test]
    fn signed_posts_that_are_not_json_objects_are_rejected() {
        let config = Config::with_secret("k");
        for body in [
            "",
            " ",
            "[1]",
            r#""x""#,
            "1",
            "null",
            "{",
            "{} {}",
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":1}x"#,
            "{\"a\":\"\u{1}\"}",
            "not json",
        ] {
            assert_eq!(
                Twitter::verify(&signed(body, "k"), &config),
                Verdict::reject("body is not a JSON object"),
                "{body:?}"
            );
        }
    }

    #[test]
    fn an_unprefixed_signature_is_rejected() {
        let config = Config::with_secret("k");
        let invalid = Verdict::reject("invalid signature");
        let unprefixed = Request::post("{}").with_header(
            "x-twitter-webhooks-signature",
            &independent_hmac("k", b"{}"),
        );
        assert_eq!(Twitter::verify(&unprefixed, &config), invalid);
    }
}
