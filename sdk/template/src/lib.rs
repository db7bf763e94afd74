//! Acme: `X-Acme-Signature` is the hex HMAC-SHA256 of `<X-Acme-Timestamp>.<body>`, the
//! timestamp (Unix seconds) within the replay window; the event type is `X-Acme-Event` and
//! the id `X-Acme-Delivery`. No handshake.

use inlet_sdk::crypto::{constant_time_eq, hmac_sha256};
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, hex_decode, hex_encode};

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
        let (Some(t), Some(signature)) = (
            request.header("x-acme-timestamp"),
            request.header("x-acme-signature").and_then(hex_decode),
        ) else {
            return Verdict::reject("missing signature");
        };
        let signed = [t.as_bytes(), b".", &request.body].concat();
        // Any active secret may have signed it (rotation).
        let genuine = config
            .secrets()
            .any(|secret| constant_time_eq(&signature, &hmac_sha256(secret.as_bytes(), &signed)));
        if !genuine {
            Verdict::reject("invalid signature")
        } else if !t.parse().is_ok_and(|t| request.is_fresh(t, config)) {
            Verdict::reject("timestamp outside the replay window")
        } else {
            Verdict::accept()
                .with_event_type(request.header("x-acme-event"))
                .with_idempotency_key(request.header("x-acme-delivery"))
        }
    }
}

/// Acme's side, for the conformance cases in `cases.json`.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Acme {
    fn sign(request: &mut Request, config: &Config) {
        let t = request.received_at.to_string();
        let signed = [t.as_bytes(), b".", &request.body].concat();
        let mac = hmac_sha256(config.secret().unwrap_or_default().as_bytes(), &signed);
        request.headers.push(("x-acme-timestamp".into(), t));
        request
            .headers
            .push(("x-acme-signature".into(), hex_encode(&mac)));
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
