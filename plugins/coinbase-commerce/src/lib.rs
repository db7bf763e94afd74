//! Coinbase Commerce webhooks, signed with the endpoint's shared secret.
//!
//! - Header checked: `X-CC-Webhook-Signature: <hex HMAC-SHA256(shared secret, body)>` over the
//!   raw body; any active secret (rotation) may have signed it.
//! - Coinbase Commerce signs no timestamp, so there is no replay window: a replay is caught by
//!   the idempotency key.
//! - No handshake: every verdict is an accept or a reject, so nothing the plugin answers signs
//!   anything.
//! - Event type: the body's `event.type` (`charge:created`, `charge:confirmed`, ...).
//!   Idempotency key: `event.id`, the event's id (the top-level `id` numbers the delivery
//!   attempt's notification and is not the event).

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};
const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-cc-webhook-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct CoinbaseCommerce;

impl Plugin for CoinbaseCommerce {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "coinbase-commerce",
            env!("CARGO_PKG_VERSION"),
            "Coinbase Commerce webhooks, signed with X-CC-Webhook-Signature (HMAC-SHA256)",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        let [kind, id] = request.json_values(["/event/type", "/event/id"]);
        Verdict::accept()
            .with_event_type(kind.as_deref())
            .with_idempotency_key(id.as_deref())
    }
}

/// Coinbase Commerce's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for CoinbaseCommerce {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(CoinbaseCommerce);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<CoinbaseCommerce>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        assert_eq!(CoinbaseCommerce::describe().name, "coinbase-commerce");
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::with_secret("s");
        let good = inlet_sdk::hex_encode(&hmac_sha256(b"s", b"{}"));
        for header in [
            "",
            "zz",
            "sha256=00",
            &good[..32],
            &format!("sha256={good}"),
        ] {
            let request = Request::post("{}").with_header("X-CC-Webhook-Signature", header);
            assert_eq!(
                CoinbaseCommerce::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }

    #[test]
    fn signed_bodies_without_an_event_are_stored_untyped() {
        let config = Config::with_secret("s");
        let body = r#"{"id":1,"event":{"type":[7]}}"#;
        let signature = inlet_sdk::hex_encode(&hmac_sha256(b"s", body.as_bytes()));
        let request = Request::post(body).with_header("X-CC-Webhook-Signature", &signature);
        assert_eq!(
            CoinbaseCommerce::verify(&request, &config),
            Verdict::accept()
        );
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = Request::post("{}").with_header("X-CC-Webhook-Signature", "00");
        assert_eq!(
            CoinbaseCommerce::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
