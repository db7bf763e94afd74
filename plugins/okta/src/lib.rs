//! Okta event hooks. Okta signs nothing: the hook's "Authentication field" header (this
//! plugin needs it to be `Authorization`) carries the "Authentication secret" verbatim on every request.
//! Its whole value is compared in constant time with the `authorization` field (a secret),
//! and `authorization` is declared a credential header (masked in stored events). Okta sends
//! no timestamp (no replay window). Event hooks only: inline hooks, which expect an answer
//! that changes Okta's flow, are not supported.
//!
//! - Verification: the one-time `GET` carrying `X-Okta-Verification-Challenge` is answered
//!   `200` with `{"verification":"<challenge>"}` (JSON), once the `Authorization` header is
//!   checked (Okta sends it on this request too), and only for a challenge of 1 to 128 ASCII
//!   letters, digits, `-` or `_` (Okta's are 40 base64url characters). It is not a signing
//!   oracle: it signs nothing, and echoes only a bounded token to a caller that holds the
//!   secret.
//! - Events (`POST`): the event type is the first event's `eventType`
//!   (`data.events[0].eventType`, e.g. `user.session.start`), or the top-level `eventType`
//!   (`com.okta.event_hook`) when there is none; the idempotency key is the top-level
//!   `eventId`, the delivery's id, or else the first event's `uuid`.

use inlet_sdk::crypto::constant_time_eq;
use inlet_sdk::{Config, ConfigField, Plugin, PluginInfo, Request, Verdict};

const CHALLENGE: &str = "x-okta-verification-challenge";
const MAX_CHALLENGE_LEN: usize = 128;

pub struct Okta;

impl Plugin for Okta {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "okta",
            env!("CARGO_PKG_VERSION"),
            "Okta event hooks, authenticated by their Authorization header",
        )
        .field(ConfigField {
            name: "authorization".into(),
            description: "the event hook's Authentication secret: the exact Authorization \
                          header value Okta sends"
                .into(),
            required: true,
            secret: true,
        })
        .credential_header("authorization")
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        let Some(expected) = config.get("authorization") else {
            return Verdict::misconfigured("authorization");
        };
        let Some(presented) = request.header("authorization") else {
            return Verdict::reject("missing authorization");
        };
        if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            return Verdict::reject("invalid authorization");
        }
        if request.method.eq_ignore_ascii_case("GET") {
            return match request.header(CHALLENGE) {
                Some(challenge) if is_challenge(challenge) => {
                    let body = serde_json::json!({ "verification": challenge });
                    Verdict::respond_json(200, body.to_string())
                }
                Some(_) => Verdict::reject("malformed verification challenge"),
                None => Verdict::reject("missing verification challenge"),
            };
        }
        let (event_type, id) = type_and_id(request);
        Verdict::accept()
            .with_event_type(event_type.as_deref())
            .with_idempotency_key(id.as_deref())
    }
}

fn is_challenge(challenge: &str) -> bool {
    (1..=MAX_CHALLENGE_LEN).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn type_and_id(request: &Request) -> (Option<String>, Option<String>) {
    let [first_type, event_type, event_id, first_uuid] = request
        .json_values([
            "/data/events/0/eventType",
            "/eventType",
            "/eventId",
            "/data/events/0/uuid",
        ])
        .map(|v| v.filter(|v| !v.is_empty()));
    (first_type.or(event_type), event_id.or(first_uuid))
}

/// Okta's side, for the conformance cases: it sends the configured Authorization value.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Okta {
    fn sign(request: &mut Request, config: &Config) {
        let value = config.get("authorization").unwrap_or_default().to_string();
        request.headers.push(("authorization".into(), value));
    }
}

inlet_sdk::export_plugin!(Okta);

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::default().with_field("authorization", "Bearer s3cret")
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Okta>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_its_credential_header() {
        let info = Okta::describe();
        assert_eq!(info.credential_headers, ["authorization"]);
        assert!(info.config[0].secret && info.config[0].required);
    }

    #[test]
    fn types_and_ids() {
        let cases = [
            (
                r#"{"eventType":"com.okta.event_hook","eventId":"d1","data":{"events":[{"uuid":"u1","eventType":"user.session.start"}]}}"#,
                Some("user.session.start"),
                Some("d1"),
            ),
            (
                r#"{"eventType":"com.okta.event_hook","data":{"events":[]}}"#,
                Some("com.okta.event_hook"),
                None,
            ),
            (r#"{"data":{"events":[{"uuid":"u1"}]}}"#, None, Some("u1")),
            (
                r#"{"eventId":"","data":{"events":[{"uuid":"u1","eventType":""}]}}"#,
                None,
                Some("u1"),
            ),
            (r#"{"eventType":1}"#, Some("1"), None),
            ("[]", None, None),
            ("", None, None),
        ];
        for (body, event_type, id) in cases {
            let (t, i) = type_and_id(&Request::post(body));
            assert_eq!((t.as_deref(), i.as_deref()), (event_type, id), "{body}");
        }
    }

    #[test]
    fn the_verification_needs_the_secret_and_a_token_shaped_challenge() {
        let get = |challenge: &str, authorization: &str| {
            let request = Request::get("")
                .with_header("Authorization", authorization)
                .with_header(CHALLENGE, challenge);
            Okta::verify(&request, &config())
        };
        assert_eq!(
            get("abc-_1", "Bearer s3cret"),
            Verdict::respond_json(200, r#"{"verification":"abc-_1"}"#)
        );
        assert_eq!(
            get("abc", "Bearer guess"),
            Verdict::reject("invalid authorization")
        );
        let too_long = "a".repeat(MAX_CHALLENGE_LEN + 1);
        for bad in ["", "a b", "a\"b", "<b>", &too_long] {
            assert_eq!(
                get(bad, "Bearer s3cret"),
                Verdict::reject("malformed verification challenge"),
                "{bad:?}"
            );
        }
        let bare = Request::get("").with_header("Authorization", "Bearer s3cret");
        assert_eq!(
            Okta::verify(&bare, &config()),
            Verdict::reject("missing verification challenge")
        );
    }

    #[test]
    fn fails_closed_and_compares_the_whole_value() {
        let request = Request::post("{}").with_header("Authorization", "Bearer s3cret");
        assert_eq!(
            Okta::verify(&request, &Config::default()),
            Verdict::misconfigured("authorization")
        );
        for value in ["", "Bearer", "s3cret", "Bearer s3cret ", "bearer s3cret"] {
            let request = Request::post("{}").with_header("Authorization", value);
            assert_eq!(
                Okta::verify(&request, &config()),
                Verdict::reject("invalid authorization"),
                "{value:?}"
            );
        }
    }
}
