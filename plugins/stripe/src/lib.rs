//! Stripe: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]`.
//!
//! - Signed bytes: `{t}.{body}` (the timestamp, a `.`, the raw body), HMAC-SHA256 with the
//!   endpoint's signing secret (`whsec_...`, used as is, as UTF-8 bytes), hex-encoded.
//! - Scheme: only `v1` signatures are checked; the header may carry several (Stripe sends one
//!   per active secret while a secret is rolled), and any one of them made with any active
//!   secret is enough. `v0` (test-mode legacy) and unknown schemes are ignored.
//! - Replay window: `t` must be within `tolerance_seconds` (default 300 s, Stripe's own
//!   default) of the receive time, checked after the signature.
//! - Event type and idempotency key: the body's `type` (`payment_intent.succeeded`) and `id`
//!   (`evt_...`), from the event object.
//! - Handshake: none; every verdict is an accept or a reject, so nothing is ever signed for
//!   a caller.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, header_params, hex_decode};
use serde::Deserialize;

/// A longer header is not Stripe's (a few signatures of 64 hex characters each).
const MAX_HEADER_LEN: usize = 4096;

pub struct Stripe;

/// A value the host accepts as an event type or key (at most 1 KiB).
fn bounded(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| v.len() <= 1024)
}

/// The fields of a Stripe event the plugin reads.
#[derive(Deserialize)]
struct Event {
    id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

impl Plugin for Stripe {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "stripe",
            env!("CARGO_PKG_VERSION"),
            "Stripe webhooks, signed with Stripe-Signature (v1, HMAC-SHA256 of t.body)",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let Some(header) = request.header("stripe-signature") else {
            return Verdict::reject("missing signature");
        };
        if header.len() > MAX_HEADER_LEN {
            return Verdict::reject("malformed signature header");
        }
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for item in header_params(header, ',') {
            match item {
                ("t", t) if timestamp.is_none() => timestamp = Some(t),
                ("v1", sig) => signatures.extend(hex_decode(sig)),
                _ => {}
            }
        }
        let Some(t) = timestamp else {
            return Verdict::reject("missing timestamp");
        };
        let Ok(ts) = t.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        if signatures.is_empty() {
            return Verdict::reject("no v1 signature");
        }
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(&request.body);
        let genuine = signatures
            .iter()
            .any(|sig| config.signed_by_any_secret(HashAlgorithm::Sha256, &signed, sig));
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        if !request.is_fresh(ts, config) {
            return Verdict::reject("timestamp outside the replay window");
        }
        // The body is genuine; an unexpected shape only loses the type and id.
        let event = serde_json::from_slice::<Event>(&request.body).ok();
        Verdict::accept()
            .with_event_type(event.as_ref().and_then(|e| bounded(&e.kind)))
            .with_idempotency_key(event.as_ref().and_then(|e| bounded(&e.id)))
    }
}

/// Stripe's side, for the conformance cases: `t=<now>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Stripe {
    fn sign(request: &mut Request, config: &Config) {
        let secret = config.secret().unwrap_or_default();
        let t = request.received_at;
        let mut payload = format!("{t}.").into_bytes();
        payload.extend_from_slice(&request.body);
        let v1 =
            inlet_sdk::hex_encode(&inlet_sdk::crypto::hmac_sha256(secret.as_bytes(), &payload));
        request
            .headers
            .push(("stripe-signature".into(), format!("t={t},v1={v1}")));
    }
}

inlet_sdk::export_plugin!(Stripe);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Stripe>(include_str!("../cases.json"));
    }

    fn header(value: &str) -> Verdict {
        let request = Request::post("{}")
            .with_header("stripe-signature", value)
            .received(1_700_000_000);
        Stripe::verify(&request, &Config::with_secret("whsec_test"))
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let long = format!("t=1700000000,v1={}", "a".repeat(MAX_HEADER_LEN));
        for value in [
            "",
            ",,,",
            "t=",
            "t=abc,v1=00",
            "v1=00",
            "t=1700000000",
            "t=1700000000,v1=zz",
            "t=99999999999999999999,v1=00",
            "t=1700000000,v1",
            &long,
        ] {
            assert!(matches!(header(value), Verdict::Reject(_)), "{value:?}");
        }
    }

    #[test]
    fn the_first_timestamp_is_the_one_signed() {
        // A second `t=` cannot replace the signed one.
        let signature = inlet_sdk::hex_encode(&hmac_sha256(b"whsec_test", b"1700000000.{}"));
        let value = format!("t=1700000000,t=1,v1={signature}");
        assert!(header(&value).is_accept());
        let value = format!("t=1,t=1700000000,v1={signature}");
        assert!(!header(&value).is_accept());
    }

    #[test]
    fn describes_itself() {
        let info = Stripe::describe();
        assert_eq!(info.name, "stripe");
        assert_eq!(info.config[0].name, "secret");
        assert_eq!(info.config[1].name, "tolerance_seconds");
    }
}
