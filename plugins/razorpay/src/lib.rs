//! Razorpay webhooks.
//!
//! - Header checked: `X-Razorpay-Signature`, the lower-case hex HMAC-SHA256 of the raw body
//!   with the webhook secret (the secret set on the webhook in the Razorpay Dashboard, not
//!   the API key secret). A signature made with any active secret is accepted (rotation).
//! - Replay window: none. Razorpay signs no timestamp; the event id below lets Inlet flag a
//!   replayed delivery as a duplicate.
//! - Handshake: none. Every verdict is an accept or a reject, so nothing the plugin answers
//!   signs anything.
//! - Event type: the body's `event` (`payment.captured`, ...). Idempotency key: the
//!   `x-razorpay-event-id` header, which Razorpay keeps across retries of one event.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-razorpay-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

/// The longest `x-razorpay-event-id` taken (the host refuses longer keys).
const MAX_LEN: usize = 1024;

pub struct Razorpay;

impl Plugin for Razorpay {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "razorpay",
            env!("CARGO_PKG_VERSION"),
            "Razorpay webhooks, signed with X-Razorpay-Signature",
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
        // A genuine body that is not JSON is still Razorpay's: store it, without a type.
        let [event_type] = request.json_values(["/event"]);
        let event_id = request.header("x-razorpay-event-id");
        Verdict::accept()
            .with_event_type(event_type.as_deref().filter(|t| !t.is_empty()))
            .with_idempotency_key(event_id.filter(|v| !v.is_empty() && v.len() <= MAX_LEN))
    }
}

/// Razorpay's side, for the conformance cases: it signs the body as it sends it.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Razorpay {
    fn sign(request: &mut Request, config: &Config) {
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Razorpay);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = hex::encode(mac.finalize().into_bytes());
        Request::post(body).with_header("X-Razorpay-Signature", &signature)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Razorpay>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = Razorpay::describe();
        assert_eq!(info.name, "razorpay");
        assert!(info.config[0].name == "secret" && info.config[0].required);
    }

    #[test]
    fn accepts_an_independently_signed_event() {
        let body = r#"{"entity":"event","event":"payment.captured","payload":{}}"#;
        let request = signed(body, "k").with_header("x-razorpay-event-id", "evt_1");
        assert_eq!(
            Razorpay::verify(&request, &Config::with_secret("k")),
            Verdict::accept()
                .with_event_type("payment.captured")
                .with_idempotency_key("evt_1")
        );
    }

    #[test]
    fn odd_bodies_and_headers() {
        let config = Config::with_secret("k");
        // Genuine but not JSON, or with an event that is no string or number: accepted
        // without a type.
        for body in ["", "not json", r#"{"event":{}}"#, r#"{"event":""}"#, "[]"] {
            assert_eq!(
                Razorpay::verify(&signed(body, "k"), &config),
                Verdict::accept(),
                "{body:?}"
            );
        }
        let long = format!(r#"{{"event":"{}"}}"#, "a".repeat(MAX_LEN + 1));
        assert_eq!(
            Razorpay::verify(&signed(&long, "k"), &config),
            Verdict::accept()
        );
        for header in ["", "zz", "abcd", "sha256=00"] {
            let request = Request::post("{}").with_header("x-razorpay-signature", header);
            assert_eq!(
                Razorpay::verify(&request, &config),
                Verdict::reject("invalid signature")
            );
        }
        assert_eq!(
            Razorpay::verify(&signed("{}", "k"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
