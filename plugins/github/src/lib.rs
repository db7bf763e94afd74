//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`. The event type is
//! `X-GitHub-Event` (a `ping` when a webhook is created is accepted like any other event) and
//! the idempotency key `X-GitHub-Delivery`.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-hub-signature-256",
    prefix: "sha256=",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct GitHub;

impl Plugin for GitHub {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "github",
            env!("CARGO_PKG_VERSION"),
            "GitHub webhooks, signed with X-Hub-Signature-256",
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
        Verdict::accept()
            .with_event_type(request.header("x-github-event"))
            .with_idempotency_key(request.header("x-github-delivery"))
    }
}

/// GitHub's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for GitHub {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(GitHub);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    const SECRET: &str = "It's a Secret to Everybody";

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        Request::post(body).with_header("X-Hub-Signature-256", &signature)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<GitHub>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = GitHub::describe();
        assert_eq!(info.name, "github");
        assert_eq!(info.config.len(), 1);
        assert!(info.config[0].name == "secret" && info.config[0].required);
    }

    #[test]
    fn githubs_documented_example_verifies() {
        let request = Request::post("Hello, World!")
            .with_header(
                "X-Hub-Signature-256",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            )
            .with_header("X-GitHub-Event", "push")
            .with_header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(
            GitHub::verify(&request, &Config::with_secret(SECRET)),
            Verdict::accept()
                .with_event_type("push")
                .with_idempotency_key("72d3162e-cc78-11e3-81ab-4c9367dc0958")
        );
    }

    #[test]
    fn valid_signatures_and_pings_are_accepted() {
        let config = Config::with_secret(SECRET);
        assert_eq!(
            GitHub::verify(&signed("{}", SECRET), &config),
            Verdict::accept()
        );
        let ping = signed(r#"{"zen":"Design for failure."}"#, SECRET)
            .with_header("X-GitHub-Event", "ping")
            .with_header("X-GitHub-Delivery", "d-1");
        assert_eq!(
            GitHub::verify(&ping, &config),
            Verdict::accept()
                .with_event_type("ping")
                .with_idempotency_key("d-1")
        );
        // Upper-case hex is still the same signature.
        let mut upper = signed("{}", SECRET);
        upper.headers[0].1 = upper.headers[0]
            .1
            .to_uppercase()
            .replace("SHA256=", "sha256=");
        assert!(GitHub::verify(&upper, &config).is_accept());
    }

    #[test]
    fn malformed_and_truncated_signatures_are_rejected() {
        let config = Config::with_secret(SECRET);
        let invalid = Verdict::reject("invalid signature");
        for header in ["", "sha256=", "sha256=zz", "sha1=abcd", "757107ea0e"] {
            let request = Request::post("{}").with_header("X-Hub-Signature-256", header);
            assert_eq!(GitHub::verify(&request, &config), invalid, "{header:?}");
        }
        // A truncated signature must not verify.
        let mut short = signed("{}", SECRET);
        short.headers[0].1.truncate(20);
        assert_eq!(GitHub::verify(&short, &config), invalid);
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let misconfigured = Verdict::reject("plugin misconfigured: secret is required");
        let request = signed("{}", SECRET);
        assert_eq!(GitHub::verify(&request, &Config::default()), misconfigured);
        let empty = Config::with_secret("");
        assert_eq!(GitHub::verify(&request, &empty), misconfigured);
    }
}
