//! Mux webhooks, signed with the webhook's signing secret.
//!
//! - Header checked: `Mux-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
//!   over the `t` value as sent, a `.` and the raw body. Only the `v1` scheme is supported;
//!   entries of other versions are ignored, and a header may list several `v1` (any one
//!   matching an active secret is enough); a second `t`, or a header of more than 16 entries
//!   or 4 KiB, is refused.
//! - Replay window: `t` must be within the source's `tolerance_seconds` (default 300, Mux's
//!   own SDK default) of the receive time, checked after the signature.
//! - No handshake: every verdict is an accept or a reject, so nothing the plugin answers signs
//!   anything.
//! - Event type: the body's `type` (`video.asset.ready`, ...). Idempotency key: the body's
//!   `id`, the event's id, which Mux keeps across retries.

use inlet_sdk::{Config, Plugin, PluginInfo, Request, TimestampedHeader, Verdict};

const SIGNATURE: TimestampedHeader = TimestampedHeader::stripe_style("mux-signature");

pub struct Mux;

impl Plugin for Mux {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "mux",
            env!("CARGO_PKG_VERSION"),
            "Mux webhooks, signed with Mux-Signature (t=..,v1=.. HMAC-SHA256)",
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
        let [kind, id] = request.json_values(["/type", "/id"]);
        Verdict::accept()
            .with_event_type(kind.as_deref())
            .with_idempotency_key(id.as_deref())
    }
}

/// Mux's side, for the conformance cases: it signs `<t>.<body>` at the send time.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Mux {
    fn sign(request: &mut Request, config: &Config) {
        SIGNATURE.sign(request, config);
    }
}

inlet_sdk::export_plugin!(Mux);

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_565_125_718;
    const HASH: &str = "854ece4c22acef7c66b57d4e504153bc512595e8e9c772ece2a68150548c19a7";

    fn with_header(header: &str) -> Request {
        Request::post(r#"{"test":"body"}"#)
            .with_header("Mux-Signature", header)
            .received(T)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Mux>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = Mux::describe();
        assert_eq!(info.name, "mux");
        assert_eq!(info.config[1].name, "tolerance_seconds");
    }

    /// The header variants of mux-node-sdk's tests (tests/api-resources/webhooks.test.ts).
    #[test]
    fn header_variants_of_muxs_sdk_tests() {
        let config = Config::with_secret("SuperSecret123");
        for header in [
            format!("t={T},v1=invalid-sig,v1={HASH}"),
            format!("t={T},v2={HASH},v1={HASH}"),
        ] {
            assert!(
                Mux::verify(&with_header(&header), &config).is_accept(),
                "{header}"
            );
        }
        assert_eq!(
            Mux::verify(&with_header(&format!("t={T},v2={HASH}")), &config),
            Verdict::reject("invalid signature")
        );
        assert_eq!(
            Mux::verify(&with_header(HASH), &config),
            Verdict::reject("malformed signature header")
        );
        // Six minutes later (the SDK's "too old" case).
        let late = with_header(&format!("t={T},v1={HASH}")).received(T + 360);
        assert_eq!(
            Mux::verify(&late, &config),
            Verdict::reject("timestamp outside the replay window")
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        let config = Config::with_secret("SuperSecret123");
        for header in [
            String::new(),
            "t=".into(),
            format!("t=x,v1={HASH}"),
            format!("t={T},t={T},v1={HASH}"),
            format!("v1={HASH},t=99999999999999999999"),
            format!("{}t={T},v1={HASH}", "x=1,".repeat(16)),
        ] {
            assert!(
                !Mux::verify(&with_header(&header), &config).is_accept(),
                "{header:?}"
            );
        }
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = with_header(&format!("t={T},v1={HASH}"));
        assert_eq!(
            Mux::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
