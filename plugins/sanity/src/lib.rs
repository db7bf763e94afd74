//! Sanity GROQ-powered webhooks; the secret is the webhook's secret (set in sanity.io/manage).
//!
//! - Header checked: `sanity-webhook-signature: t=<ms>,v1=<sig>` (a comma and/or spaces between
//!   the two, as `@sanity/webhook` accepts), where `<ms>` is the send time in Unix
//!   *milliseconds* and `<sig>` the URL-safe base64 (unpadded) HMAC-SHA256, with the secret,
//!   of `<ms>` (in decimal), `.`, then the raw body. Only `v1` exists; any other scheme is
//!   refused. A signature made with any active secret is accepted (rotation).
//! - Replay window: `t` (truncated to seconds) must be within `tolerance_seconds` (300 by
//!   default) of the receive time, checked after the signature. Sanity signs the time of
//!   each attempt, so a retry is fresh; its idempotency key is the same.
//! - Handshake: none. Every verdict is an accept or a reject, so nothing the plugin answers
//!   signs anything.
//! - Event type: the `sanity-operation` header (`create`, `update`, `delete`); when absent,
//!   the body's top-level `_type` (the document type, present when the projection keeps it).
//!   Idempotency key: the `idempotency-key` header, the same across retries of a delivery.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, base64url_decode};

/// The most of the event type and id taken (the host refuses longer than 1 KiB).
const MAX_LEN: usize = 1024;

pub struct Sanity;

/// The header's two parts: the millisecond timestamp and the `v1` signature.
fn parse_header(header: &str) -> Option<(u64, &str)> {
    let mut parts = header.split([',', ' ']).filter(|p| !p.is_empty());
    let t = parts.next()?.strip_prefix("t=")?;
    let v1 = parts.next()?.strip_prefix("v1=")?;
    // Digits only (no sign, no spaces): `u64::from_str` alone would take a leading `+`.
    if parts.next().is_some() || t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((t.parse().ok()?, v1))
}

/// The bytes Sanity signs: the timestamp in decimal, `.`, the body.
fn signed_bytes(t_ms: u64, body: &[u8]) -> Vec<u8> {
    let mut signed = format!("{t_ms}.").into_bytes();
    signed.extend_from_slice(body);
    signed
}

impl Plugin for Sanity {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "sanity",
            env!("CARGO_PKG_VERSION"),
            "Sanity GROQ-powered webhooks, signed with sanity-webhook-signature (v1)",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let Some(header) = request.header("sanity-webhook-signature") else {
            return Verdict::reject("missing signature");
        };
        let Some((t_ms, v1)) = parse_header(header) else {
            return Verdict::reject("malformed signature header");
        };
        let signed = signed_bytes(t_ms, &request.body);
        let genuine = base64url_decode(v1).is_some_and(|signature| {
            config.signed_by_any_secret(HashAlgorithm::Sha256, &signed, &signature)
        });
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        // Checked only once the timestamp is known to be Sanity's.
        let seconds = i64::try_from(t_ms / 1000).unwrap_or(i64::MAX);
        if !request.is_fresh(seconds, config) {
            return Verdict::reject("stale timestamp");
        }
        let event_type = match request.header("sanity-operation") {
            Some(operation) => Some(operation.to_string()),
            None => request.json_values(["/_type"]).into_iter().next().flatten(),
        };
        Verdict::accept()
            .with_event_type(bounded(event_type.as_deref()))
            .with_idempotency_key(bounded(request.header("idempotency-key")))
    }
}

/// A value short and non-empty enough to be an event type or key.
fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
}

/// Sanity's side, for the conformance cases: it signs the body at the send time, in ms.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Sanity {
    fn sign(request: &mut Request, config: &Config) {
        let secret = config.secret().unwrap_or_default();
        let t_ms = request.received_at as u64 * 1000;
        let signature = inlet_sdk::base64url_encode(&inlet_sdk::crypto::hmac_sha256(
            secret.as_bytes(),
            &signed_bytes(t_ms, &request.body),
        ));
        request.headers.push((
            "sanity-webhook-signature".into(),
            format!("t={t_ms},v1={signature}"),
        ));
    }
}

inlet_sdk::export_plugin!(Sanity);

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use hmac::Mac;

    const NOW: i64 = 1_700_000_000;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str, t_ms: u64) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t_ms}.{body}").as_bytes());
        let signature =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        Request::post(body)
            .with_header(
                "sanity-webhook-signature",
                &format!("t={t_ms},v1={signature}"),
            )
            .received(NOW)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Sanity>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = Sanity::describe();
        assert_eq!(info.name, "sanity");
        assert_eq!(info.config[1].name, "tolerance_seconds");
    }

    #[test]
    fn header_forms() {
        assert_eq!(parse_header("t=1,v1=a"), Some((1, "a")));
        assert_eq!(parse_header("t=1, v1=a"), Some((1, "a")));
        assert_eq!(parse_header(" t=1 v1=a "), Some((1, "a")));
        for bad in [
            "",
            "t=1",
            "v1=a,t=1",
            "t=,v1=a",
            "t=+1,v1=a",
            "t=1,v2=a",
            "t=1,v1=a,v1=b",
            "t=99999999999999999999,v1=a",
            "t=x,v1=a",
        ] {
            assert_eq!(parse_header(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn type_falls_back_to_the_document_type() {
        let config = Config::with_secret("k");
        let t = NOW as u64 * 1000 + 999;
        assert_eq!(
            Sanity::verify(&signed(r#"{"_id":"a","_type":"post"}"#, "k", t), &config),
            Verdict::accept().with_event_type("post")
        );
        let request = signed(r#"{"_type":"post"}"#, "k", t)
            .with_header("sanity-operation", "delete")
            .with_header("idempotency-key", "msg-1");
        assert_eq!(
            Sanity::verify(&request, &config),
            Verdict::accept()
                .with_event_type("delete")
                .with_idempotency_key("msg-1")
        );
    }

    #[test]
    fn the_window_is_in_milliseconds() {
        let config = Config::with_secret("k");
        let ms = |s: i64| s as u64 * 1000;
        assert!(Sanity::verify(&signed("{}", "k", ms(NOW - 300)), &config).is_accept());
        assert!(Sanity::verify(&signed("{}", "k", ms(NOW + 300) + 999), &config).is_accept());
        for t in [ms(NOW - 301), ms(NOW + 301), NOW as u64, u64::MAX] {
            assert_eq!(
                Sanity::verify(&signed("{}", "k", t), &config),
                Verdict::reject("stale timestamp"),
                "{t}"
            );
        }
    }

    #[test]
    fn malformed_and_unconfigured() {
        let config = Config::with_secret("k");
        let request = Request::post("{}").with_header("sanity-webhook-signature", "v1=abc");
        assert_eq!(
            Sanity::verify(&request, &config),
            Verdict::reject("malformed signature header")
        );
        let request = Request::post("{}").with_header("sanity-webhook-signature", "t=1,v1=!!");
        assert_eq!(
            Sanity::verify(&request, &config),
            Verdict::reject("invalid signature")
        );
        assert_eq!(
            Sanity::verify(&signed("{}", "k", 1), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
