//! Zoom webhooks, with the app's Secret Token.
//!
//! - Headers: `x-zm-signature: v0=<hex>` and `x-zm-request-timestamp` (Unix seconds).
//! - Signed bytes: `v0:{timestamp}:{body}` (the raw body), HMAC-SHA256 with the secret
//!   token, hex-encoded. Only `v0` exists; any active secret may have signed it.
//! - Replay window: the timestamp within `tolerance_seconds` (default 300 s) of the receive
//!   time, checked after the signature.
//! - Handshake: `endpoint.url_validation` (`{"event":"endpoint.url_validation","payload":
//!   {"plainToken":"..."}}`) is answered `200` with `{"plainToken":"<t>","encryptedToken":
//!   "<hex HMAC-SHA256(secret, t)>"}` (with the current secret), only after the request's own
//!   signature and timestamp verify. It signs caller input with the request key, so it must
//!   not be a signing oracle: every request MAC is over `v0:{ts}:{body}`, which contains `:`,
//!   and the plugin signs only plain tokens of 1 to 128 letters, digits, `-` or `_` (Zoom's
//!   are 22 base64url characters), so no answer can ever be a request signature; and the
//!   caller must already hold a Zoom signature to get an answer at all.
//! - Event type: the body's `event`; idempotency key: `{account_id}:{event}:{event_ts}` from
//!   the body (`payload.account_id`, `event`, `event_ts`, the same on Zoom's retries; Zoom
//!   sends no delivery id that survives a retry), when all three are present.

use inlet_sdk::crypto::{HashAlgorithm, hmac_sha256};
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict, hex_encode};
use serde::Deserialize;

const MAX_TOKEN_LEN: usize = 128;
const MAX_KEY_LEN: usize = 1024;

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-zm-signature",
    prefix: "v0=",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Zoom;

#[derive(Deserialize)]
struct Event {
    event: Option<String>,
    event_ts: Option<i64>,
    payload: Option<Payload>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    plain_token: Option<String>,
    #[serde(rename = "account_id")]
    account_id: Option<String>,
}

/// The bytes Zoom signs: `v0:{timestamp}:{body}`.
fn signed_bytes(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("v0:{timestamp}:").into_bytes();
    signed.extend_from_slice(body);
    signed
}

/// A plain token the handshake may sign: never contains `:`, so never `v0:{ts}:{body}`.
fn is_plain_token(token: &str) -> bool {
    (1..=MAX_TOKEN_LEN).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Plugin for Zoom {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "zoom",
            env!("CARGO_PKG_VERSION"),
            "Zoom webhooks, signed with x-zm-signature (v0), answering endpoint.url_validation",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        let Some(current) = config.secret() else {
            return Verdict::misconfigured("secret");
        };
        let (Some(_), Some(t)) = (
            request.header(SIGNATURE.name),
            request.header("x-zm-request-timestamp"),
        ) else {
            return Verdict::reject("missing signature");
        };
        let Ok(timestamp) = t.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &signed_bytes(t, &request.body)) {
            return reject;
        }
        if !request.is_fresh(timestamp, config) {
            return Verdict::reject("timestamp outside the replay window");
        }
        let event = serde_json::from_slice::<Event>(&request.body).ok();
        let Some(event) = event else {
            return Verdict::accept();
        };
        if event.event.as_deref() == Some("endpoint.url_validation") {
            let token = event
                .payload
                .as_ref()
                .and_then(|p| p.plain_token.as_deref());
            return match token {
                Some(token) if is_plain_token(token) => {
                    let encrypted = hex_encode(&hmac_sha256(current.as_bytes(), token.as_bytes()));
                    // The token is shape-checked: letters, digits, `-`, `_` need no escaping.
                    let body =
                        format!(r#"{{"plainToken":"{token}","encryptedToken":"{encrypted}"}}"#);
                    Verdict::respond_json(200, body)
                }
                _ => Verdict::reject("malformed plainToken"),
            };
        }
        let kind = event.event.as_deref().filter(|e| e.len() <= MAX_KEY_LEN);
        let account = event.payload.as_ref().and_then(|p| p.account_id.as_deref());
        let key = match (account, kind, event.event_ts) {
            (Some(account), Some(kind), Some(ts)) => Some(format!("{account}:{kind}:{ts}")),
            _ => None,
        };
        Verdict::accept()
            .with_event_type(kind)
            .with_idempotency_key(key.as_deref().filter(|k| k.len() <= MAX_KEY_LEN))
    }
}

/// Zoom's side, for the conformance cases: `v0=<hex HMAC-SHA256(secret, "v0:t:body")>`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Zoom {
    fn sign(request: &mut Request, config: &Config) {
        let t = request.received_at.to_string();
        let signed = signed_bytes(&t, &request.body);
        request.headers.push(("x-zm-request-timestamp".into(), t));
        SIGNATURE.sign(request, config, &signed);
    }
}

inlet_sdk::export_plugin!(Zoom);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::conformance::Signer;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Zoom>(include_str!("../cases.json"));
    }

    fn signed(body: &str, at: i64) -> Request {
        let mut request = Request::post(body).received(at);
        Zoom::sign(&mut request, &Config::with_secret("s"));
        request
    }

    fn validation(token: &str) -> String {
        serde_json::json!({"event": "endpoint.url_validation", "payload": {"plainToken": token}})
            .to_string()
    }

    /// The attack: ask the handshake to sign `v0:{ts}:{forged body}`, then send the forged
    /// body with the answer as its signature.
    #[test]
    fn the_url_validation_cannot_sign_a_request() {
        let config = Config::with_secret("s");
        let forged = r#"{"event":"meeting.started"}"#;
        let token = format!("v0:1700000000:{forged}");
        assert_eq!(
            Zoom::verify(&signed(&validation(&token), 1_700_000_000), &config),
            Verdict::reject("malformed plainToken")
        );
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for token in ["", "a:b", "a b", "{}", &long] {
            assert_eq!(
                Zoom::verify(&signed(&validation(token), 1_700_000_000), &config),
                Verdict::reject("malformed plainToken"),
                "{token:?}"
            );
        }
    }

    #[test]
    fn the_answer_matches_an_independent_hmac() {
        // Computed with Python's hmac module: hmac.new(b"s", b"qgg8vlvZRS6UYooatFL8Aw", sha256).
        let Verdict::Respond { status, body, .. } = Zoom::verify(
            &signed(&validation("qgg8vlvZRS6UYooatFL8Aw"), 1_700_000_000),
            &Config::with_secret("s"),
        ) else {
            panic!("expected a response");
        };
        assert_eq!(status, 200);
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
        assert_eq!(body["encryptedToken"], EXPECTED_ENCRYPTED_TOKEN);
    }

    const EXPECTED_ENCRYPTED_TOKEN: &str =
        "93aa52bcb22637104b103fa602ee132a2459036070fc4ef715f04d8ce8a99166";

    #[test]
    fn malformed_headers_are_rejected() {
        for (sig, t) in [
            ("", "1700000000"),
            ("v0=zz", "1700000000"),
            ("00", "1700000000"),
            ("v0=00", ""),
        ] {
            let request = Request::post("{}")
                .with_header("x-zm-signature", sig)
                .with_header("x-zm-request-timestamp", t)
                .received(1_700_000_000);
            assert!(matches!(
                Zoom::verify(&request, &Config::with_secret("s")),
                Verdict::Reject(_)
            ));
        }
    }
}
