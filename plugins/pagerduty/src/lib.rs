//! PagerDuty v3 webhooks (webhook subscriptions, "Generic Webhooks (v3)"). The v1/v2
//! webhooks PagerDuty retired carried no signature and are not supported.
//!
//! - Header checked: `X-PagerDuty-Signature`, one or more comma-separated
//!   `v1=<hex HMAC-SHA256(secret, body)>` over the raw body. PagerDuty adds one `v1=` per
//!   signing secret the subscription has while a secret is rotated, so the request is genuine
//!   when any listed signature matches any active secret. Entries of another version are
//!   ignored; at most [`MAX_SIGNATURES`] entries are looked at.
//! - PagerDuty signs no timestamp header, so there is no replay window: a replay is caught
//!   by the idempotency key.
//! - No handshake: every verdict is an accept or a reject (the `pagey.ping` test event is an
//!   ordinary signed event), so nothing the plugin answers signs anything.
//! - Event type: the body's `event.event_type` (`incident.triggered`, ...). Idempotency key:
//!   `event.id`, the id PagerDuty gives the event and keeps across retries.

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, header_params, hex_decode};

/// PagerDuty lists one signature per active secret (two during a rotation); the bound keeps
/// a forged header from making the plugin compute HMACs without end.
const MAX_SIGNATURES: usize = 8;

pub struct PagerDuty;

impl Plugin for PagerDuty {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "pagerduty",
            env!("CARGO_PKG_VERSION"),
            "PagerDuty v3 webhooks, signed with X-PagerDuty-Signature (HMAC-SHA256)",
        )
        .secret()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let Some(header) = request.header("x-pagerduty-signature") else {
            return Verdict::reject("missing signature");
        };
        // The first MAX_SIGNATURES entries, counted before they are parsed.
        let signatures: Vec<Vec<u8>> = header
            .split(',')
            .take(MAX_SIGNATURES)
            .flat_map(|entry| header_params(entry, ','))
            .filter_map(|(scheme, signature)| (scheme == "v1").then_some(signature))
            .filter_map(hex_decode)
            .collect();
        let genuine = signatures
            .iter()
            .any(|s| config.signed_by_any_secret(HashAlgorithm::Sha256, &request.body, s));
        if !genuine {
            return Verdict::reject("invalid signature");
        }
        let [kind, id] = request.json_values(["/event/event_type", "/event/id"]);
        Verdict::accept()
            .with_event_type(kind.as_deref())
            .with_idempotency_key(id.as_deref())
    }
}

/// PagerDuty's side, for the conformance cases: it signs the body with the subscription's
/// secret.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for PagerDuty {
    fn sign(request: &mut Request, config: &Config) {
        let secret = config.secret().unwrap_or_default();
        let signature = inlet_sdk::hex_encode(&inlet_sdk::crypto::hmac_sha256(
            secret.as_bytes(),
            &request.body,
        ));
        request
            .headers
            .push(("x-pagerduty-signature".into(), format!("v1={signature}")));
    }
}

inlet_sdk::export_plugin!(PagerDuty);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    fn v1(secret: &str, body: &str) -> String {
        format!(
            "v1={}",
            inlet_sdk::hex_encode(&hmac_sha256(secret.as_bytes(), body.as_bytes()))
        )
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<PagerDuty>(include_str!("../cases.json"));
    }

    #[test]
    fn any_listed_signature_may_match() {
        let config = Config::with_secret("s");
        let body = r#"{"event":{"id":"e1","event_type":"pagey.ping"}}"#;
        let header = format!("v1=00ff, {}, v2=abcd", v1("s", body));
        let request = Request::post(body).with_header("X-PagerDuty-Signature", &header);
        assert_eq!(
            PagerDuty::verify(&request, &config),
            Verdict::accept()
                .with_event_type("pagey.ping")
                .with_idempotency_key("e1")
        );
    }

    #[test]
    fn malformed_and_overlong_headers_are_rejected() {
        let config = Config::with_secret("s");
        let body = "{}";
        let late = format!("{}{}", "v1=00,".repeat(MAX_SIGNATURES), v1("s", body));
        let v2 = v1("s", body).replacen("v1=", "v2=", 1);
        let bare = v1("s", body).replacen("v1=", "", 1);
        for header in ["", "v1=", "v1=zz", ",,,", &v2, &bare, &late] {
            let request = Request::post(body).with_header("X-PagerDuty-Signature", header);
            assert_eq!(
                PagerDuty::verify(&request, &config),
                Verdict::reject("invalid signature"),
                "{header:?}"
            );
        }
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = Request::post("{}").with_header("X-PagerDuty-Signature", &v1("s", "{}"));
        assert_eq!(
            PagerDuty::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
