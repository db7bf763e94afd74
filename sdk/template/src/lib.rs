//! Acme: `X-Acme-Signature` is the hex HMAC-SHA256 of `<X-Acme-Timestamp>.<body>`, the
//! timestamp (Unix seconds) within the replay window; the event type is `X-Acme-Event` and
//! the id `X-Acme-Delivery`. No handshake.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-acme-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

/// What Acme signs: the timestamp, a dot, the body.
fn signed(timestamp: &str, body: &[u8]) -> Vec<u8> {
    [timestamp.as_bytes(), b".", body].concat()
}

pub struct Acme;

impl Plugin for Acme {
    fn describe() -> PluginInfo {
        let info = PluginInfo::new("acme", env!("CARGO_PKG_VERSION"), "Acme webhooks");
        info.secret().tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret"); // fail closed
        }
        let Some(t) = request.header("x-acme-timestamp") else {
            return Verdict::reject("missing timestamp");
        };
        // Any active secret may have signed it (rotation); then the timestamp is trusted.
        if let Err(reject) = SIGNATURE.verify(request, config, &signed(t, &request.body)) {
            return reject;
        }
        if !t.parse().is_ok_and(|t| request.is_fresh(t, config)) {
            return Verdict::reject("timestamp outside the replay window");
        }
        Verdict::accept()
            .with_event_type(request.header("x-acme-event"))
            .with_idempotency_key(request.header("x-acme-delivery"))
    }
}

/// Acme's side, for the conformance cases in `cases.json`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Acme {
    fn sign(request: &mut Request, config: &Config) {
        let t = request.received_at.to_string();
        let message = signed(&t, &request.body);
        SIGNATURE.sign(request, config, &message);
        request.headers.push(("x-acme-timestamp".into(), t));
    }
}

inlet_sdk::export_plugin!(Acme);

#[cfg(test)]
mod tests {
    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<super::Acme>(include_str!("../cases.json"));
    }
}
