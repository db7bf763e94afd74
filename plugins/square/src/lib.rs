//! Square webhooks (event notifications of a webhook subscription).
//!
//! - Header checked: `x-square-hmacsha256-signature:
//!   <base64 HMAC-SHA256(signature key, notification URL + body)>`, with any active secret
//!   (rotation). The secret is the subscription's signature key. The older
//!   `x-square-signature` (HMAC-SHA1) is not accepted: Square sends both, and SHA-256 is the
//!   one it documents now.
//! - The notification URL is the URL Square called, byte for byte as configured in the
//!   subscription: `request.url`, unless the `notification_url` field overrides it (a proxy
//!   or load balancer in front of Inlet, where the public URL differs from Inlet's).
//! - Replay window: none (Square signs no timestamp).
//! - Handshake: none; every verdict is an accept or a reject, and nothing is ever signed.
//! - Event type and idempotency key: the body's `type` (`payment.updated`, ...) and
//!   `event_id`, read from the JSON object after the signature is verified.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, ConfigField, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-square-hmacsha256-signature",
    prefix: "",
    alphabet: Alphabet::Base64,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Square;

impl Plugin for Square {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "square",
            env!("CARGO_PKG_VERSION"),
            "Square webhooks, signed with x-square-hmacsha256-signature (HMAC-SHA256 of URL + body)",
        )
        .secret()
        .field(ConfigField {
            name: "notification_url".into(),
            description: "the subscription's notification URL, when it is not the URL Inlet \
                          sees (a proxy in front of Inlet); by default the request's URL"
                .into(),
            required: false,
            secret: false,
        })
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &signed_bytes(request, config)) {
            return reject;
        }
        let [kind, event_id] = request.json_values(["/type", "/event_id"]);
        Verdict::accept()
            .with_event_type(kind.as_deref().filter(|v| !v.is_empty()))
            .with_idempotency_key(event_id.as_deref().filter(|v| !v.is_empty()))
    }
}

/// The notification URL followed by the raw body.
fn signed_bytes(request: &Request, config: &Config) -> Vec<u8> {
    let url = config.get("notification_url").unwrap_or(&request.url);
    let mut signed = url.as_bytes().to_vec();
    signed.extend_from_slice(&request.body);
    signed
}

/// Square's side, for the conformance cases: it signs the notification URL (the one it
/// calls, or the configured one) and the body.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Square {
    fn sign(request: &mut Request, config: &Config) {
        let signed = signed_bytes(request, config);
        SIGNATURE.sign(request, config, &signed);
    }
}

inlet_sdk::export_plugin!(Square);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Square>(include_str!("../cases.json"));
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = Request::post("{}").with_header("x-square-hmacsha256-signature", "AA==");
        assert_eq!(
            Square::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn the_url_is_part_of_the_signature() {
        let config = Config::with_secret("k");
        let signature = inlet_sdk::base64_encode(&hmac_sha256(
            b"k",
            format!("{}{{}}", inlet_sdk::TEST_URL).as_bytes(),
        ));
        let request = Request::post("{}").with_header("x-square-hmacsha256-signature", &signature);
        assert!(Square::verify(&request, &config).is_accept());
        let elsewhere = request.clone().at("https://inlet.example/ingest/other");
        assert_eq!(
            Square::verify(&elsewhere, &config),
            Verdict::reject("invalid signature")
        );
        let behind_proxy = config.with_field("notification_url", inlet_sdk::TEST_URL);
        assert!(Square::verify(&elsewhere, &behind_proxy).is_accept());
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::with_secret("k");
        for header in ["", "!!", "sha256=AA==", "AA=="] {
            let request = Request::post("{}").with_header("x-square-hmacsha256-signature", header);
            assert_eq!(
                Square::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }
}
