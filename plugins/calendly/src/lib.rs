//! Calendly webhook subscriptions created with a webhook signing key (the `signing_key` given
//! when the subscription is created, or the one Calendly generates for an OAuth app).
//!
//! - Header checked: `Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key,
//!   "<t>.<body>")>`, over the `t` value as sent, a `.` and the raw body. Only the `v1` scheme
//!   exists; other entries are ignored, and any `v1` matching an active secret is enough; a second `t`,
//!   or a header of more than 16 entries or 4 KiB, is refused.
//! - Replay window: `t` must be within the source's `tolerance_seconds` (default 300; Calendly
//!   suggests 3 minutes, which a source can set) of the receive time, checked after the
//!   signature.
//! - No handshake: every verdict is an accept or a reject, so nothing the plugin answers signs
//!   anything.
//! - Event type: the body's `event` (`invitee.created`, `invitee.canceled`, ...). Calendly
//!   sends no delivery or event id, so there is no idempotency key; the signed timestamp and
//!   the window bound replays.

use inlet_sdk::{Config, Plugin, PluginInfo, Request, TimestampedHeader, Verdict};

const SIGNATURE: TimestampedHeader = TimestampedHeader::stripe_style("calendly-webhook-signature");

pub struct Calendly;

impl Plugin for Calendly {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "calendly",
            env!("CARGO_PKG_VERSION"),
            "Calendly webhooks, signed with Calendly-Webhook-Signature (t=..,v1=.. HMAC-SHA256)",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        if let Err(reject) = SIGNATURE.verify(request, config) {
            return reject;
        }
        let [event] = request.json_values(["/event"]);
        Verdict::accept().with_event_type(event.as_deref())
    }
}

/// Calendly's side, for the conformance cases: it signs `<t>.<body>` at the send time.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Calendly {
    fn sign(request: &mut Request, config: &Config) {
        SIGNATURE.sign(request, config);
    }
}

inlet_sdk::export_plugin!(Calendly);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    const T: i64 = 1_700_000_000;

    fn signed(body: &str, secret: &str, header: impl Fn(&str) -> String) -> Request {
        let mut data = format!("{T}.").into_bytes();
        data.extend_from_slice(body.as_bytes());
        let v1 = inlet_sdk::hex_encode(&hmac_sha256(secret.as_bytes(), &data));
        Request::post(body)
            .with_header("Calendly-Webhook-Signature", &header(&v1))
            .received(T)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Calendly>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = Calendly::describe();
        assert_eq!(info.name, "calendly");
        assert_eq!(info.config[1].name, "tolerance_seconds");
    }

    #[test]
    fn header_entries_in_any_order_with_spaces() {
        let config = Config::with_secret("k");
        let body = r#"{"event":"invitee.canceled"}"#;
        let request = signed(body, "k", |v1| format!("v1={v1}, t={T}"));
        assert_eq!(
            Calendly::verify(&request, &config),
            Verdict::accept().with_event_type("invitee.canceled")
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let config = Config::with_secret("k");
        let cases: [&dyn Fn(&str) -> String; 6] = [
            &|_| String::new(),
            &|v1| format!("v1={v1}"),
            &|v1| format!("t=abc,v1={v1}"),
            &|v1| format!("t={T},t={T},v1={v1}"),
            &|v1| format!("t={T},v0={v1}"),
            &|v1| format!("{}t={T},v1={v1}", "x=1,".repeat(16)),
        ];
        for header in cases {
            let request = signed("{}", "k", header);
            assert!(
                !Calendly::verify(&request, &config).is_accept(),
                "{:?}",
                request.headers
            );
        }
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = signed("{}", "k", |v1| format!("t={T},v1={v1}"));
        assert_eq!(
            Calendly::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
