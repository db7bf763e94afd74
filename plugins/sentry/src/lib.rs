//! Sentry integration-platform webhooks (internal and public integrations); the secret is the
//! integration's Client Secret.
//!
//! - `Sentry-Hook-Signature` is the lower-case hex HMAC-SHA256 of the raw body.
//! - `Sentry-Hook-Timestamp` (Unix seconds, when Sentry sent the request) must be within the
//!   source's replay window (`tolerance_seconds`, 300 s by default) of the receive time. It is
//!   checked after the signature. Sentry does not sign the timestamp, so the window refuses
//!   the replay of a captured request as it was sent, not one whose header was rewritten;
//!   the idempotency key flags such a replay as a duplicate.
//! - The event type is `Sentry-Hook-Resource` (`issue`, `event_alert`, `metric_alert`,
//!   `error`, `comment`, `installation`, ...), and the idempotency key `Request-ID`.
//!
//! There is no handshake (an installation is an ordinary signed `installation` event). Only
//! the integration platform's scheme is supported, not the legacy per-project service hooks
//! (`X-ServiceHook-Signature`).

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

/// The host refuses longer event types and keys.
const MAX_LEN: usize = 1024;

const SIGNATURE: HmacHeader = HmacHeader {
    name: "sentry-hook-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Sentry;

impl Plugin for Sentry {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "sentry",
            env!("CARGO_PKG_VERSION"),
            "Sentry integration webhooks, signed with Sentry-Hook-Signature",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        // Any active secret (rotation) may have signed it.
        if let Err(reject) = SIGNATURE.verify(request, config, &request.body) {
            return reject;
        }
        let Some(timestamp) = request.header("sentry-hook-timestamp") else {
            return Verdict::reject("missing timestamp");
        };
        let Ok(timestamp) = timestamp.parse::<i64>() else {
            return Verdict::reject("malformed timestamp");
        };
        if !request.is_fresh(timestamp, config) {
            return Verdict::reject("stale timestamp");
        }
        let bounded = |name| {
            request
                .header(name)
                .filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
        };
        Verdict::accept()
            .with_event_type(bounded("sentry-hook-resource"))
            .with_idempotency_key(bounded("request-id"))
    }
}

/// Sentry's side, for the conformance cases: it stamps the send time and signs the body.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Sentry {
    fn sign(request: &mut Request, config: &Config) {
        request.headers.push((
            "sentry-hook-timestamp".into(),
            request.received_at.to_string(),
        ));
        let body = request.body.clone();
        SIGNATURE.sign(request, config, &body);
    }
}

inlet_sdk::export_plugin!(Sentry);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    const NOW: i64 = 1_700_000_000;

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str, timestamp: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        Request::post(body)
            .with_header(
                "Sentry-Hook-Signature",
                &hex::encode(mac.finalize().into_bytes()),
            )
            .with_header("Sentry-Hook-Timestamp", timestamp)
            .with_header("Sentry-Hook-Resource", "issue")
            .with_header("Request-ID", "r-1")
            .received(NOW)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Sentry>(include_str!("../cases.json"));
    }

    #[test]
    fn an_independent_signature_verifies() {
        let config = Config::with_secret("client-secret");
        assert_eq!(
            Sentry::verify(&signed("{}", "client-secret", "1700000000"), &config),
            Verdict::accept()
                .with_event_type("issue")
                .with_idempotency_key("r-1")
        );
    }

    #[test]
    fn timestamps_are_bounded_and_well_formed() {
        let config = Config::with_secret("k");
        let verdict = |timestamp: &str| Sentry::verify(&signed("{}", "k", timestamp), &config);
        assert!(verdict("1699999700").is_accept());
        assert!(verdict("1700000300").is_accept());
        assert_eq!(verdict("1699999699"), Verdict::reject("stale timestamp"));
        assert_eq!(verdict("1700000301"), Verdict::reject("stale timestamp"));
        assert_eq!(
            verdict("-9223372036854775808"),
            Verdict::reject("stale timestamp")
        );
        for bad in [
            "",
            "1700000000.5",
            "2023-11-14T22:13:20Z",
            "99999999999999999999",
        ] {
            assert_eq!(
                verdict(bad),
                Verdict::reject("malformed timestamp"),
                "{bad:?}"
            );
        }
        let mut missing = signed("{}", "k", "1");
        missing
            .headers
            .retain(|(name, _)| name != "sentry-hook-timestamp");
        assert_eq!(
            Sentry::verify(&missing, &config),
            Verdict::reject("missing timestamp")
        );
        let wide = Config::with_secret("k").with_field("tolerance_seconds", "3600");
        assert!(Sentry::verify(&signed("{}", "k", "1699996400"), &wide).is_accept());
    }

    #[test]
    fn fails_closed() {
        assert_eq!(
            Sentry::verify(&signed("{}", "k", "1700000000"), &Config::default()),
            Verdict::misconfigured("secret")
        );
    }
}
