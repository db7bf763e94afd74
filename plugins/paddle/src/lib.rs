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
use inlet_sdk::{Alphabet, Config, Plugin, PluginInfo, Request, TimestampedHeader, Verdict};

const SIGNATURE: TimestampedHeader = TimestampedHeader {
    name: "paddle-signature",
    separator: ';',
    timestamp: "ts",
    signature: "h1",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
    joiner: ":",
};

pub struct Paddle;

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
        if let Err(reject) = SIGNATURE.verify(request, config) {
            return reject;
        }
        let [kind, id] = request.json_values(["/event_type", "/notification_id"]);
        Verdict::accept()
            .with_event_type(kind.as_deref())
            .with_idempotency_key(id.as_deref())
    }
}

/// Paddle's side, for the conformance cases: `ts=<now>;h1=<hex HMAC-SHA256(secret, "ts:body")>`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Paddle {
    fn sign(request: &mut Request, config: &Config) {
        SIGNATURE.sign(request, config);
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
        let long = format!("ts=1698796800;h1={}", "a".repeat(4096));
        for value in [
            "",
            "invalid_header",
            "h1=00",
            "ts=1234;h2=00",
            "ts=x;h1=00",
            "ts=1698796800;h1=zz",
            "ts=1;ts=1698796800;h1=00",
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
