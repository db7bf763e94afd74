//! Intercom webhooks (topics of an Intercom app).
//!
//! - Header checked: `X-Hub-Signature: sha1=<hex HMAC-SHA1(client secret, body)>`, over the
//!   raw body, with any active secret (rotation). The secret is the app's client secret.
//!   HMAC-SHA1 is what Intercom signs with; no SHA-256 variant exists to prefer.
//! - Replay window: none (Intercom signs no timestamp; the body's `created_at` is not signed
//!   apart from the body, so it is not used as one).
//! - Handshake: none; every verdict is an accept or a reject, and nothing is ever signed
//!   (the `ping` Intercom sends when a topic is subscribed is an ordinary signed event).
//! - Event type and idempotency key: the body's `topic` (`conversation.user.created`, `ping`,
//!   ...) and `id` (the notification's id, `notif_...`), read from the JSON object after the
//!   signature is verified.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-hub-signature",
    prefix: "sha1=",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha1,
};

pub struct Intercom;

impl Plugin for Intercom {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "intercom",
            env!("CARGO_PKG_VERSION"),
            "Intercom webhooks, signed with X-Hub-Signature (HMAC-SHA1 with the client secret)",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        let [topic, id] = request.json_values(["/topic", "/id"]);
        Verdict::accept()
            .with_event_type(topic.as_deref().filter(|t| !t.is_empty()))
            .with_idempotency_key(id.as_deref().filter(|k| !k.is_empty()))
    }
}

/// Intercom's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Intercom {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Intercom);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Intercom>(include_str!("../cases.json"));
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = Request::post("{}").with_header("X-Hub-Signature", "sha1=00");
        assert_eq!(
            Intercom::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::with_secret("s");
        let good = inlet_sdk::hex_encode(&hmac(HashAlgorithm::Sha1, b"s", b"{}"));
        for header in [
            String::new(),
            "sha1=".into(),
            "sha1=xyz".into(),
            good.clone(),
            format!("sha256={good}"),
            format!("sha1={}", &good[..20]),
        ] {
            let request = Request::post("{}").with_header("X-Hub-Signature", &header);
            assert_eq!(
                Intercom::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }
}
