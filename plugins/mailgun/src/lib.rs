//! Mailgun webhooks (event webhooks, and the legacy form-encoded ones).
//!
//! - Checked: the `signature` object of the JSON body, `{"timestamp", "token", "signature"}`,
//!   where `signature` is `hex HMAC-SHA256(webhook signing key, timestamp + token)`, with any
//!   active secret (rotation). Legacy webhooks (`application/x-www-form-urlencoded`) carry the
//!   same three as form fields. No header is checked. Multipart bodies (forwarded messages of
//!   routes) are refused: the SDK has no multipart parser.
//! - Mailgun signs only the timestamp and token, not the body: within the replay window, a
//!   captured `signature` object verifies with any other event. The window is what bounds it
//!   (and the token is a fresh random per request; the plugin cannot remember tokens, as it
//!   keeps no state outside a handshake).
//! - Replay window: `timestamp` (Unix seconds) within `tolerance_seconds` (default 300 s) of
//!   the receive time, checked after the signature.
//! - Handshake: none; every verdict is an accept or a reject, and nothing is ever signed.
//! - Event type and idempotency key: `event-data.event` (`delivered`, `opened`, ...) and
//!   `event-data.id`. Legacy form bodies: the `event` field, and no key.

use inlet_sdk::crypto::{constant_time_eq, hmac_sha256};
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, hex_decode};

/// The host refuses event types and keys longer than this.
const MAX_LEN: usize = 1024;

pub struct Mailgun;

/// What the plugin found in the body, whichever its encoding.
struct Signed {
    timestamp: String,
    token: String,
    signature: String,
    event_type: Option<String>,
    key: Option<String>,
}

impl Plugin for Mailgun {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "mailgun",
            env!("CARGO_PKG_VERSION"),
            "Mailgun webhooks, signed in the body (HMAC-SHA256 of timestamp + token)",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let content_type = request.header("content-type").unwrap_or_default();
        let signed = if media_type(content_type) == "application/x-www-form-urlencoded" {
            from_form(request)
        } else if media_type(content_type).starts_with("multipart/") {
            return Verdict::reject("multipart bodies are not supported");
        } else {
            from_json(request)
        };
        let Some(signed) = signed else {
            return Verdict::reject("missing signature");
        };
        let mut data = signed.timestamp.clone().into_bytes();
        data.extend_from_slice(signed.token.as_bytes());
        let genuine = hex_decode(&signed.signature).is_some_and(|signature| {
            config
                .secrets()
                .any(|secret| constant_time_eq(&signature, &hmac_sha256(secret.as_bytes(), &data)))
        });
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        let Ok(timestamp) = signed.timestamp.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        if !request.is_fresh(timestamp, config) {
            return Verdict::reject("stale timestamp");
        }
        Verdict::accept()
            .with_event_type(bounded(signed.event_type.as_deref()))
            .with_idempotency_key(bounded(signed.key.as_deref()))
    }
}

/// `text/plain; charset=utf-8` → `text/plain`, lower-cased.
fn media_type(content_type: &str) -> String {
    let end = content_type.find(';').unwrap_or(content_type.len());
    content_type[..end].trim().to_ascii_lowercase()
}

fn from_json(request: &Request) -> Option<Signed> {
    let [timestamp, token, signature, event_type, key] = request.json_values([
        "/signature/timestamp",
        "/signature/token",
        "/signature/signature",
        "/event-data/event",
        "/event-data/id",
    ]);
    Some(Signed {
        timestamp: timestamp?,
        token: token?,
        signature: signature?,
        event_type,
        key,
    })
}

fn from_form(request: &Request) -> Option<Signed> {
    let form = request.form();
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    Some(Signed {
        timestamp: field("timestamp")?,
        token: field("token")?,
        signature: field("signature")?,
        event_type: field("event"),
        key: None,
    })
}

fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
}

/// Mailgun's side, for the conformance cases: it signs `timestamp + token` (the send time and
/// a fresh token) and writes the three into the body: as the `signature` object of a JSON
/// body, or as form fields of a legacy `application/x-www-form-urlencoded` one.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Mailgun {
    fn sign(request: &mut Request, config: &Config) {
        let key = config.secret().unwrap_or_default();
        let timestamp = request.received_at.to_string();
        // A fixed token for tests: Mailgun's is 50 random characters.
        let token = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcd";
        let mac = hmac_sha256(key.as_bytes(), format!("{timestamp}{token}").as_bytes());
        let signature = inlet_sdk::hex_encode(&mac);
        let content_type = request.header("content-type").unwrap_or_default();
        if media_type(content_type) == "application/x-www-form-urlencoded" {
            let fields = format!("timestamp={timestamp}&token={token}&signature={signature}");
            if !request.body.is_empty() {
                request.body.push(b'&');
            }
            request.body.extend_from_slice(fields.as_bytes());
            return;
        }
        let mut body: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&request.body).unwrap_or_default();
        body.insert(
            "signature".into(),
            serde_json::json!({
                "timestamp": timestamp,
                "token": token,
                "signature": signature,
            }),
        );
        request.body = serde_json::Value::Object(body).to_string().into_bytes();
    }
}

inlet_sdk::export_plugin!(Mailgun);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::conformance::Signer;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Mailgun>(include_str!("../cases.json"));
    }

    fn signed(body: &str, key: &str, at: i64) -> Request {
        let mut request = Request::post(body)
            .received(at)
            .with_header("Content-Type", "application/json");
        Mailgun::sign(&mut request, &Config::with_secret(key));
        request
    }

    #[test]
    fn bodies_signed_as_mailgun_does_are_accepted() {
        let config = Config::with_secret("key");
        let body = r#"{"event-data":{"event":"opened","id":"ev-1"}}"#;
        assert_eq!(
            Mailgun::verify(&signed(body, "key", 1_700_000_000), &config),
            Verdict::accept()
                .with_event_type("opened")
                .with_idempotency_key("ev-1")
        );
        let mut late = signed(body, "key", 1_700_000_000);
        late.received_at += 301;
        assert_eq!(
            Mailgun::verify(&late, &config),
            Verdict::reject("stale timestamp")
        );
        assert_eq!(
            Mailgun::verify(&signed(body, "other", 1_700_000_000), &config),
            Verdict::reject("invalid signature")
        );
        let rotating = Config {
            secrets: vec!["new".into(), "key".into()],
            ..Config::default()
        };
        assert!(Mailgun::verify(&signed(body, "key", 1_700_000_000), &rotating).is_accept());
    }

    #[test]
    fn legacy_form_bodies_are_signed_as_form_fields() {
        let mut request = Request::post("event=bounced")
            .received(1_700_000_000)
            .with_header("Content-Type", "application/x-www-form-urlencoded");
        Mailgun::sign(&mut request, &Config::with_secret("key"));
        assert!(
            request
                .body
                .starts_with(b"event=bounced&timestamp=1700000000&token=")
        );
        assert_eq!(
            Mailgun::verify(&request, &Config::with_secret("key")),
            Verdict::accept().with_event_type("bounced")
        );
    }

    #[test]
    fn fails_closed_without_a_secret() {
        assert_eq!(
            Mailgun::verify(&signed("{}", "key", 0), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn malformed_bodies_are_rejected() {
        let config = Config::with_secret("key");
        for body in [
            "",
            "[]",
            "{}",
            r#"{"signature":{}}"#,
            r#"{"signature":{"timestamp":{},"token":"t","signature":"00"}}"#,
            r#"{"signature":"x"}"#,
        ] {
            let request = Request::post(body).with_header("Content-Type", "application/json");
            assert_eq!(
                Mailgun::verify(&request, &config),
                Verdict::reject("missing signature"),
                "{body}"
            );
        }
        // A boolean timestamp is read as written and signed like any other: still refused.
        let request =
            Request::post(r#"{"signature":{"timestamp":true,"token":"t","signature":"00"}}"#)
                .with_header("Content-Type", "application/json");
        assert!(!Mailgun::verify(&request, &config).is_accept());
        let multipart =
            Request::post("--b--").with_header("Content-Type", "multipart/form-data; boundary=b");
        assert_eq!(
            Mailgun::verify(&multipart, &config),
            Verdict::reject("multipart bodies are not supported")
        );
    }

    #[test]
    fn a_signed_non_numeric_timestamp_is_rejected() {
        let mac = inlet_sdk::hex_encode(&hmac_sha256(b"key", b"soontok"));
        let body =
            format!(r#"{{"signature":{{"timestamp":"soon","token":"tok","signature":"{mac}"}}}}"#);
        let request = Request::post(body).with_header("Content-Type", "application/json");
        assert_eq!(
            Mailgun::verify(&request, &Config::with_secret("key")),
            Verdict::reject("malformed timestamp")
        );
    }
}
