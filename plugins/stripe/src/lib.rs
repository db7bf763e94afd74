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

use inlet_sdk::{Config, Plugin, PluginInfo, Request, TimestampedHeader, Verdict};

const SIGNATURE: TimestampedHeader = TimestampedHeader::stripe_style("stripe-signature");

pub struct Stripe;

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
        if let Err(reject) = SIGNATURE.verify(request, config) {
            return reject;
        }
        // The body is genuine; an unexpected shape only loses the type and id.
        let [kind, id] = request.json_values(["/type", "/id"]);
        Verdict::accept()
            .with_event_type(kind.as_deref())
            .with_idempotency_key(id.as_deref())
    }
}

/// Stripe's side, for the conformance cases: `t=<now>,v1=<hex HMAC-SHA256(secret, "t.body")>`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Stripe {
    fn sign(request: &mut Request, config: &Config) {
        SIGNATURE.sign(request, config);
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
        let long = format!("t=1700000000,v1={}", "a".repeat(4096));
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
    fn a_second_timestamp_makes_the_header_ambiguous() {
        let signature = inlet_sdk::hex_encode(&hmac_sha256(b"whsec_test", b"1700000000.{}"));
        assert!(header(&format!("t=1700000000,v1={signature}")).is_accept());
        for value in [
            format!("t=1700000000,t=1,v1={signature}"),
            format!("t=1,t=1700000000,v1={signature}"),
        ] {
            assert!(!header(&value).is_accept(), "{value}");
        }
    }

    #[test]
    fn describes_itself() {
        let info = Stripe::describe();
        assert_eq!(info.name, "stripe");
        assert_eq!(info.config[0].name, "secret");
        assert_eq!(info.config[1].name, "tolerance_seconds");
    }
}
