//! Box webhooks (V2), signed with the application's two signature keys.
//!
//! - Headers checked: `BOX-SIGNATURE-PRIMARY` and `BOX-SIGNATURE-SECONDARY`, each the standard
//!   base64 HMAC-SHA256 of the raw body followed by the bytes of the `BOX-DELIVERY-TIMESTAMP`
//!   header, with the primary and the secondary key (the secret `provider_config` fields
//!   `primary_key` and `secondary_key`). The request is genuine when either header matches
//!   the digest made with its own key: that is Box's rotation (reset one key at a time).
//!   At least one key must be configured. `BOX-SIGNATURE-VERSION` and
//!   `BOX-SIGNATURE-ALGORITHM`, when sent, must be `1` and `HmacSHA256`, the only scheme Box has.
//! - Replay window: `BOX-DELIVERY-TIMESTAMP` (RFC 3339, any offset, read with the SDK's
//!   `unix_from_rfc3339`) must be within `tolerance_seconds` of the receive
//!   time, by default 600 (Box's documented ten minutes), checked after the signature.
//!   Future timestamps beyond the window are refused too.
//! - Handshake: none. Every verdict is an accept or a reject, so nothing the plugin answers
//!   signs anything.
//! - Event type: the body's `trigger` (`FILE.UPLOADED`, ...). Idempotency key: the body's
//!   `id` (the webhook event's id, which Box keeps when it retries), or `BOX-DELIVERY-ID`
//!   when the body has none: Box documents that the delivery id changes on every retry,
//!   so it alone would not catch a retried delivery.

use inlet_sdk::crypto::{constant_time_eq, hmac_sha256};
use inlet_sdk::{Config, ConfigField, Plugin, PluginInfo, Request, Verdict, base64_decode};
/// The longest delivery-id header taken as a key (the host refuses longer than 1 KiB).
const MAX_LEN: usize = 1024;
/// Box's documented replay window: ten minutes.
const DEFAULT_TOLERANCE_SECONDS: u64 = 600;

pub struct BoxPlugin;

/// The bytes Box signs: the body, then the timestamp header as sent.
fn signed_bytes(body: &[u8], timestamp: &str) -> Vec<u8> {
    let mut signed = body.to_vec();
    signed.extend_from_slice(timestamp.as_bytes());
    signed
}

/// Whether `header` is the digest of `signed` with `key` (both present).
fn matches(header: Option<&str>, key: Option<&str>, signed: &[u8]) -> bool {
    match (header.and_then(|h| base64_decode(h.trim())), key) {
        (Some(signature), Some(key)) => {
            constant_time_eq(&signature, &hmac_sha256(key.as_bytes(), signed))
        }
        _ => false,
    }
}

impl Plugin for BoxPlugin {
    fn describe() -> PluginInfo {
        let key = |name: &str, which: &str| ConfigField {
            name: name.into(),
            description: format!(
                "the {which} signature key from the Box Developer Console (one of the two \
                 keys is required)"
            ),
            required: false,
            secret: true,
        };
        PluginInfo::new(
            "box",
            env!("CARGO_PKG_VERSION"),
            "Box V2 webhooks, signed with BOX-SIGNATURE-PRIMARY/SECONDARY",
        )
        .field(key("primary_key", "primary"))
        .field(key("secondary_key", "secondary"))
        .field(ConfigField {
            name: "tolerance_seconds".into(),
            description: format!(
                "how far, in seconds, BOX-DELIVERY-TIMESTAMP may be from the receive time \
                 (default {DEFAULT_TOLERANCE_SECONDS}, Box's ten minutes)"
            ),
            required: false,
            secret: false,
        })
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        let primary_key = config.get("primary_key");
        let secondary_key = config.get("secondary_key");
        if primary_key.is_none() && secondary_key.is_none() {
            return Verdict::misconfigured("primary_key");
        }
        let primary = request.header("box-signature-primary");
        let secondary = request.header("box-signature-secondary");
        if primary.is_none() && secondary.is_none() {
            return Verdict::reject("missing signature");
        }
        if request
            .header("box-signature-version")
            .is_some_and(|v| v != "1")
            || request
                .header("box-signature-algorithm")
                .is_some_and(|a| a != "HmacSHA256")
        {
            return Verdict::reject("unsupported signature version");
        }
        let Some(timestamp) = request.header("box-delivery-timestamp") else {
            return Verdict::reject("missing timestamp");
        };
        let signed = signed_bytes(&request.body, timestamp);
        // Each header is checked against its own key only, as Box documents.
        if !matches(primary, primary_key, &signed) && !matches(secondary, secondary_key, &signed) {
            return Verdict::reject("invalid signature");
        }
        let Some(sent_at) = inlet_sdk::unix_from_rfc3339(timestamp) else {
            return Verdict::reject("malformed timestamp");
        };
        let tolerance = config
            .get("tolerance_seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_TOLERANCE_SECONDS);
        if request.received_at.abs_diff(sent_at) > tolerance {
            return Verdict::reject("stale timestamp");
        }
        let [trigger, id] = request.json_values(["/trigger", "/id"]);
        let key = id.as_deref().or(request.header("box-delivery-id"));
        let usable = |v: &&str| !v.is_empty() && v.len() <= MAX_LEN;
        Verdict::accept()
            .with_event_type(trigger.as_deref().filter(usable))
            .with_idempotency_key(key.filter(usable))
    }
}

/// Box's side, for the conformance cases: it stamps the delivery (in Pacific time, as Box
/// does) and signs body + timestamp with each configured key.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for BoxPlugin {
    fn sign(request: &mut Request, config: &Config) {
        let timestamp = inlet_sdk::conformance::sign::rfc3339(request.received_at, -7 * 3600);
        let signed = signed_bytes(&request.body, &timestamp);
        for (field, header) in [
            ("primary_key", "box-signature-primary"),
            ("secondary_key", "box-signature-secondary"),
        ] {
            if let Some(key) = config.get(field) {
                let signature = inlet_sdk::base64_encode(&hmac_sha256(key.as_bytes(), &signed));
                request.headers.push((header.into(), signature));
            }
        }
        request
            .headers
            .push(("box-delivery-timestamp".into(), timestamp));
        request
            .headers
            .push(("box-signature-version".into(), "1".into()));
        request
            .headers
            .push(("box-signature-algorithm".into(), "HmacSHA256".into()));
    }
}

inlet_sdk::export_plugin!(BoxPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use hmac::Mac;

    const NOW: i64 = 1_577_862_000; // 2020-01-01T07:00:00Z

    /// Computed independently of the plugin (and of the SDK's crypto).
    fn digest(key: &str, body: &str, timestamp: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        mac.update(timestamp.as_bytes());
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    }

    fn keys() -> Config {
        Config::default()
            .with_field("primary_key", "P")
            .with_field("secondary_key", "S")
    }

    fn delivery(body: &str, timestamp: &str, primary: &str, secondary: &str) -> Request {
        Request::post(body)
            .with_header("box-delivery-timestamp", timestamp)
            .with_header("box-signature-primary", &digest(primary, body, timestamp))
            .with_header(
                "box-signature-secondary",
                &digest(secondary, body, timestamp),
            )
            .received(NOW)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<BoxPlugin>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = BoxPlugin::describe();
        assert_eq!(info.name, "box");
        assert!(info.config.iter().take(2).all(|f| f.secret));
    }

    #[test]
    fn rfc3339() {
        for (text, unix) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2020-01-01T00:00:00-07:00", NOW),
            ("2020-01-01T07:00:00.999999999z", NOW),
            ("2020-01-01t12:30:00+05:30", NOW),
            ("2024-02-29T00:00:00Z", 1_709_164_800),
            ("2023-11-14T22:13:20Z", 1_700_000_000),
        ] {
            assert_eq!(inlet_sdk::unix_from_rfc3339(text), Some(unix), "{text}");
        }
        for bad in [
            "",
            "2020-01-01",
            "2020-01-01T00:00:00",
            "2020-01-01 00:00:00Z",
            "2020-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2020-01-01T24:00:00Z",
            "2020-01-01T00:00:00.Z",
            "2020-01-01T00:00:00+0700",
            "+020-01-01T00:00:00Z",
            "2020-01-01T00:00:00+24:00",
            "2020-01-01T00:00:00Zjunk",
            "2020-01-01T00:00:0é",
        ] {
            assert_eq!(inlet_sdk::unix_from_rfc3339(bad), None, "{bad:?}");
        }
        for unix in [0, NOW, 1_700_000_000, 4_102_444_800] {
            for offset in [-7 * 3600, 0, 19_800] {
                assert_eq!(
                    inlet_sdk::unix_from_rfc3339(&inlet_sdk::conformance::sign::rfc3339(
                        unix, offset
                    )),
                    Some(unix)
                );
            }
        }
    }

    #[test]
    fn either_key_verifies_its_own_header() {
        let body = r#"{"type":"webhook_event","id":"e1","trigger":"FILE.UPLOADED"}"#;
        let ts = "2020-01-01T00:00:00-07:00";
        let expected = Verdict::accept()
            .with_event_type("FILE.UPLOADED")
            .with_idempotency_key("e1");
        assert_eq!(
            BoxPlugin::verify(&delivery(body, ts, "P", "S"), &keys()),
            expected
        );
        assert_eq!(
            BoxPlugin::verify(&delivery(body, ts, "old", "S"), &keys()),
            expected
        );
        assert_eq!(
            BoxPlugin::verify(&delivery(body, ts, "P", "old"), &keys()),
            expected
        );
        // Only the secondary key configured.
        let secondary = Config::default().with_field("secondary_key", "S");
        assert_eq!(
            BoxPlugin::verify(&delivery(body, ts, "x", "S"), &secondary),
            expected
        );
        // A header is not checked against the other key.
        assert_eq!(
            BoxPlugin::verify(&delivery(body, ts, "S", "P"), &keys()),
            Verdict::reject("invalid signature")
        );
    }

    #[test]
    fn window_version_and_configuration() {
        let body = "{}";
        let config = keys();
        assert!(
            BoxPlugin::verify(
                &delivery(body, "2019-12-31T23:50:00-07:00", "P", "S"),
                &config
            )
            .is_accept()
        );
        assert_eq!(
            BoxPlugin::verify(
                &delivery(body, "2019-12-31T23:49:59-07:00", "P", "S"),
                &config
            ),
            Verdict::reject("stale timestamp")
        );
        assert_eq!(
            BoxPlugin::verify(
                &delivery(body, "2020-01-01T00:10:01-07:00", "P", "S"),
                &config
            ),
            Verdict::reject("stale timestamp")
        );
        assert_eq!(
            BoxPlugin::verify(&delivery(body, "yesterday", "P", "S"), &config),
            Verdict::reject("malformed timestamp")
        );
        let v2 = delivery(body, "2020-01-01T00:00:00-07:00", "P", "S")
            .with_header("box-signature-version", "2");
        assert_eq!(
            BoxPlugin::verify(&v2, &config),
            Verdict::reject("unsupported signature version")
        );
        assert_eq!(
            BoxPlugin::verify(
                &delivery(body, "2020-01-01T00:00:00-07:00", "P", "S"),
                &Config::default()
            ),
            Verdict::misconfigured("primary_key")
        );
        let unstamped =
            Request::post("{}").with_header("box-signature-primary", &digest("P", "{}", ""));
        assert_eq!(
            BoxPlugin::verify(&unstamped, &config),
            Verdict::reject("missing timestamp")
        );
    }
}
