//! Paddle Billing webhooks, with the notification destination's secret key
//! (`pdl_ntfset_...`, used as is, as UTF-8 bytes).
//!
//! - Header: `Paddle-Signature: ts=<unix seconds>;h1=<hex>[;h1=<hex>...]`.
//! - Signed bytes: `{ts}:{body}` (the timestamp, a `:`, the raw body), HMAC-SHA256, hex.
//!   Scheme: `h1`, the only one Paddle Billing sends; several `h1` appear while Paddle rotates
//!   a secret, and any one made with any active secret is enough. Paddle Classic's RSA
//!   `p_signature` is not supported.
//! - Replay window: `ts` within `tolerance_seconds` (default 300 s) of the receive time,
//!   checked after the signature.
//! - Event type and idempotency key: the body's `event_type` and `notification_id` (the same
//!   on Paddle's retries of a notification).
//! - Handshake: none; every verdict is an accept or a reject, so nothing is ever signed for
//!   a caller.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, header_params, hex_decode};
use serde::Deserialize;

const MAX_HEADER_LEN: usize = 4096;
const MAX_KEY_LEN: usize = 1024;

pub struct Paddle;

#[derive(Deserialize)]
struct Notification {
    event_type: Option<String>,
    notification_id: Option<String>,
}

fn bounded(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| v.len() <= MAX_KEY_LEN)
}

impl Plugin for Paddle {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "paddle",
            env!("CARGO_PKG_VERSION"),
            "Paddle Billing webhooks, signed with Paddle-Signature (h1, HMAC-SHA256 of ts:body)",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let Some(header) = request.header("paddle-signature") else {
            return Verdict::reject("missing signature");
        };
        if header.len() > MAX_HEADER_LEN {
            return Verdict::reject("malformed signature header");
        }
        let mut ts = None;
        let mut signatures = Vec::new();
        for part in header_params(header, ';') {
            match part {
                ("ts", value) if ts.is_none() => ts = Some(value),
                ("h1", value) => signatures.extend(hex_decode(value)),
                _ => {}
            }
        }
        let Some(ts) = ts else {
            return Verdict::reject("missing timestamp");
        };
        let Ok(timestamp) = ts.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        let mut signed = format!("{ts}:").into_bytes();
        signed.extend_from_slice(&request.body);
        let genuine = signatures
            .iter()
            .any(|sig| config.signed_by_any_secret(HashAlgorithm::Sha256, &signed, sig));
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        if !request.is_fresh(timestamp, config) {
            return Verdict::reject("timestamp outside the replay window");
        }
        let notification = serde_json::from_slice::<Notification>(&request.body).ok();
        Verdict::accept()
            .with_event_type(notification.as_ref().and_then(|n| bounded(&n.event_type)))
            .with_idempotency_key(
                notification
                    .as_ref()
                    .and_then(|n| bounded(&n.notification_id)),
            )
    }
}

/// Paddle's side, for the conformance cases: `ts=<now>;h1=<hex HMAC-SHA256(secret, "ts:body")>`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Paddle {
    fn sign(request: &mut Request, config: &Config) {
        let secret = config.secret().unwrap_or_default();
        let ts = request.received_at;
        let mut signed = format!("{ts}:").into_bytes();
        signed.extend_from_slice(&request.body);
        let h1 = inlet_sdk::hex_encode(&inlet_sdk::crypto::hmac_sha256(secret.as_bytes(), &signed));
        request
            .headers
            .push(("paddle-signature".into(), format!("ts={ts};h1={h1}")));
    }
}

inlet_sdk::export_plugin!(Paddle);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Paddle>(include_str!("../cases.json"));
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let long = format!("ts=1698796800;h1={}", "a".repeat(MAX_HEADER_LEN));
        for value in [
            "",
            "invalid_header",
            "h1=00",
            "ts=1234;h2=00",
            "ts=x;h1=00",
            "ts=1698796800;h1=zz",
            &long,
        ] {
            let request = Request::post(r#"{"data": ["1", "2"]}"#)
                .with_header("paddle-signature", value)
                .received(1_698_796_800);
            let verdict = Paddle::verify(&request, &Config::with_secret("VALID_SECRET"));
            assert!(matches!(verdict, Verdict::Reject(_)), "{value:?}");
        }
    }
}
