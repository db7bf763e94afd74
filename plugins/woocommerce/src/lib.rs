//! WooCommerce webhooks (WooCommerce → Settings → Advanced → Webhooks), signed with the
//! webhook's secret.
//!
//! - Header checked: `X-WC-Webhook-Signature: <base64 HMAC-SHA256(secret, body)>` over the raw
//!   body; any active secret (rotation) may have signed it.
//! - WooCommerce signs no timestamp, so there is no replay window: a replay is caught by the
//!   idempotency key.
//! - Event type: `X-WC-Webhook-Topic` (`order.created`, ...). Idempotency key:
//!   `X-WC-Webhook-Delivery-ID`.
//! - The creation ping: when a webhook is saved, WooCommerce POSTs an **unsigned** form body
//!   `webhook_id=<N>` (no signature header) and only logs the answer. An unsigned request is
//!   never stored as an event: a request without a signature header whose body is exactly
//!   `webhook_id=` and 1 to 20 digits is answered `200` with an empty body and nothing is
//!   stored; any other unsigned request is rejected. Anyone can send that ping, and all it
//!   gets is an empty `200`: the answer signs nothing and echoes nothing, so it is no signing
//!   oracle, and it stores and changes nothing.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-wc-webhook-signature",
    prefix: "",
    alphabet: Alphabet::Base64,
    algorithm: HashAlgorithm::Sha256,
};

/// The host refuses event types and keys longer than this.
const MAX_LEN: usize = 1024;
/// A webhook id is a database id: 20 digits hold any 64-bit number.
const MAX_WEBHOOK_ID_DIGITS: usize = 20;

pub struct WooCommerce;

impl Plugin for WooCommerce {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "woocommerce",
            env!("CARGO_PKG_VERSION"),
            "WooCommerce webhooks, signed with X-WC-Webhook-Signature (base64 HMAC-SHA256)",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        if request.header(SIGNATURE.name).is_none() && is_ping(&request.body) {
            // Answered, never stored: see the module comment.
            return Verdict::Respond {
                status: 200,
                headers: Vec::new(),
                body: Vec::new(),
                state: None,
            };
        }
        // Any active secret (rotation) may have signed it; an unsigned request other than
        // the ping is rejected as missing its signature.
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        let bounded = |name| request.header(name).filter(|v| v.len() <= MAX_LEN);
        Verdict::accept()
            .with_event_type(bounded("x-wc-webhook-topic"))
            .with_idempotency_key(bounded("x-wc-webhook-delivery-id"))
    }
}

/// The creation ping's body, byte for byte: `webhook_id=` and 1 to 20 ASCII digits.
fn is_ping(body: &[u8]) -> bool {
    body.strip_prefix(b"webhook_id=").is_some_and(|id| {
        (1..=MAX_WEBHOOK_ID_DIGITS).contains(&id.len()) && id.iter().all(u8::is_ascii_digit)
    })
}

/// WooCommerce's side, for the conformance cases: it signs the body as it sends it (the
/// creation ping is sent unsigned, so its cases have no `sign`).
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for WooCommerce {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(WooCommerce);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<WooCommerce>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        assert_eq!(WooCommerce::describe().name, "woocommerce");
    }

    #[test]
    fn only_the_exact_ping_body_is_answered_unsigned() {
        let config = Config::with_secret("s");
        let longest = format!("webhook_id={}", "9".repeat(MAX_WEBHOOK_ID_DIGITS));
        for body in ["webhook_id=1", "webhook_id=42", &longest] {
            assert!(
                matches!(
                    WooCommerce::verify(&Request::post(body), &config),
                    Verdict::Respond { status: 200, ref body, state: None, .. } if body.is_empty()
                ),
                "{body}"
            );
        }
        let too_long = format!("webhook_id={}", "9".repeat(MAX_WEBHOOK_ID_DIGITS + 1));
        for body in [
            "",
            "webhook_id=",
            "webhook_id=1&x=2",
            "webhook_id=-1",
            "webhook_id=1 ",
            " webhook_id=1",
            "webhook_id=%31",
            "{\"webhook_id\":1}",
            &too_long,
        ] {
            assert_eq!(
                WooCommerce::verify(&Request::post(body), &config),
                Verdict::reject("missing signature"),
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_ping_with_a_bad_signature_is_rejected() {
        let request = Request::post("webhook_id=1").with_header("X-WC-Webhook-Signature", "AAAA");
        assert_eq!(
            WooCommerce::verify(&request, &Config::with_secret("s")),
            Verdict::reject("invalid signature")
        );
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::with_secret("s");
        for header in ["", "!!!", "sha256=AAAA", "AAAA"] {
            let request = Request::post("{}").with_header("X-WC-Webhook-Signature", header);
            assert_eq!(
                WooCommerce::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }

    #[test]
    fn fails_closed_without_a_secret() {
        assert_eq!(
            WooCommerce::verify(&Request::post("webhook_id=1"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
