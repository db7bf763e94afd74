//! Vercel webhooks (account webhooks and integration webhooks): `x-vercel-signature` is the
//! lower-case hex HMAC-SHA1 of the raw body, keyed with the webhook's secret (or, for an
//! integration, its Client Secret). Vercel sends no timestamp (no replay window) and has no
//! handshake.
//!
//! The event type is the body's `type` (`deployment.created`, `project.created`, ...) and the
//! idempotency key its `id`, the event's id, which a redelivery keeps.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-vercel-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha1,
};

pub struct Vercel;

impl Plugin for Vercel {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "vercel",
            env!("CARGO_PKG_VERSION"),
            "Vercel webhooks, signed with x-vercel-signature (HMAC-SHA1)",
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
        let [kind, id] = request.json_values(["/type", "/id"]);
        Verdict::accept()
            .with_event_type(kind.as_deref().filter(|t| !t.is_empty()))
            .with_idempotency_key(id.as_deref().filter(|k| !k.is_empty()))
    }
}

/// Vercel's side, for the conformance cases: it signs the body.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Vercel {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Vercel);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        Request::post(body).with_header("x-vercel-signature", &signature)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Vercel>(include_str!("../cases.json"));
    }

    #[test]
    fn an_independent_signature_verifies() {
        let config = Config::with_secret("whsec");
        let body = r#"{"id":"evt_1","type":"deployment.created","payload":{}}"#;
        assert_eq!(
            Vercel::verify(&signed(body, "whsec"), &config),
            Verdict::accept()
                .with_event_type("deployment.created")
                .with_idempotency_key("evt_1")
        );
    }

    #[test]
    fn odd_bodies_and_headers() {
        let config = Config::with_secret("whsec");
        // Genuine but not an event envelope: accepted without a type or key.
        for body in ["", "[]", r#"{"type":[1]}"#, r#"{"type":"","id":""}"#] {
            assert_eq!(
                Vercel::verify(&signed(body, "whsec"), &config),
                Verdict::accept(),
                "{body}"
            );
        }
        let long = format!(r#"{{"type":"{}"}}"#, "a".repeat(1025));
        assert_eq!(
            Vercel::verify(&signed(&long, "whsec"), &config),
            Verdict::accept()
        );
        for header in ["", "zz", "sha1=00", "00"] {
            let request = Request::post("{}").with_header("x-vercel-signature", header);
            assert_eq!(
                Vercel::verify(&request, &config),
                Verdict::reject("invalid signature")
            );
        }
        assert_eq!(
            Vercel::verify(&signed("{}", "whsec"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
