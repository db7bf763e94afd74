//! Bitbucket Cloud webhooks with a secret.
//!
//! - Header checked: `X-Hub-Signature: sha256=<hex HMAC-SHA256(secret, body)>`, over the raw
//!   body, with any active secret (rotation). Only `sha256=` is accepted: it is the algorithm
//!   Bitbucket Cloud signs with (a hook without a secret sends no signature and is refused).
//! - Replay window: none (Bitbucket signs no timestamp).
//! - Handshake: none; every verdict is an accept or a reject, and nothing is ever signed.
//! - Event type: `X-Event-Key` (`repo:push`, `pullrequest:created`, ...).
//! - Idempotency key: `X-Request-UUID`, the delivery's id (its retries carry the same one and
//!   an `X-Attempt-Number`). `X-Hook-UUID` is not used: it names the webhook, so every event
//!   of one hook would share it and all but the first would be taken for duplicates.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-hub-signature",
    prefix: "sha256=",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

/// The host refuses event types and keys longer than this.
const MAX_LEN: usize = 1024;

pub struct Bitbucket;

impl Plugin for Bitbucket {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "bitbucket",
            env!("CARGO_PKG_VERSION"),
            "Bitbucket Cloud webhooks, signed with X-Hub-Signature (HMAC-SHA256)",
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
        Verdict::accept()
            .with_event_type(bounded(request.header("x-event-key")))
            .with_idempotency_key(bounded(request.header("x-request-uuid")))
    }
}

fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
}

/// Bitbucket's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Bitbucket {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Bitbucket);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Bitbucket>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = Bitbucket::describe();
        assert_eq!(info.name, "bitbucket");
        assert!(info.credential_headers.is_empty());
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = Request::post("{}").with_header("X-Hub-Signature", "sha256=00");
        assert_eq!(
            Bitbucket::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let config = Config::with_secret("s");
        let good = inlet_sdk::hex_encode(&hmac_sha256(b"s", b"{}"));
        for header in [
            String::new(),
            "sha256=".into(),
            "sha256=zz".into(),
            format!("sha1={good}"),
            good.clone(),
            format!("sha256={}", &good[..40]),
        ] {
            let request = Request::post("{}").with_header("X-Hub-Signature", &header);
            assert_eq!(
                Bitbucket::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }
}
