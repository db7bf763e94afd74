//! HubSpot webhooks and app requests, signature versions v1, v2 and v3.
//!
//! - v3 (preferred): `X-HubSpot-Signature-v3: <base64 HMAC-SHA256(client secret, method + URL
//!   + body + timestamp)>` with `X-HubSpot-Request-Timestamp` (Unix milliseconds). The URL is
//!   `request.url` with the characters HubSpot lists decoded (`%3A` `:`, `%2F` `/`, `%3F` `?`,
//!   `%40` `@`, `%21` `!`, `%24` `$`, `%27` `'`, `%28` `(`, `%29` `)`, `%2A` `*`, `%2C` `,`,
//!   `%3B` `;`; any other escape stays as sent). The timestamp must be within the replay window
//!   (`tolerance_seconds`, default 300 s: HubSpot's 5 minutes), checked after the signature.
//! - v1 and v2 (legacy, no timestamp): `X-HubSpot-Signature: <hex SHA-256(...)>` with
//!   `X-HubSpot-Signature-Version: v1` (of client secret + body) or `v2` (of client secret +
//!   method + URL + body, the URL exactly as called). They are only checked when no v3
//!   signature is present: a request that carries one is judged by it alone, so a v3 failure
//!   never falls back to a weaker version. Set `require_v3` to `true` to refuse v1 and v2
//!   (they have no replay window: a captured request can be sent again).
//! - Every active secret (rotation) is tried; the secret is the app's client secret.
//! - Handshake: none; every verdict is an accept or a reject, and nothing is ever signed.
//! - Event type and idempotency key: webhook bodies are JSON arrays of events. The type is
//!   the events' `subscriptionType` when they all share one (`contact.creation`, ...); the key
//!   is the `eventId` when the batch holds exactly one event (a batch has no id of its own).
//!   Other bodies (workflow actions, CRM cards) are accepted without them.

use inlet_sdk::crypto::{HashAlgorithm, constant_time_eq, digest};
use inlet_sdk::{
    Config, ConfigField, Plugin, PluginInfo, Request, Verdict, base64_decode, hex_decode,
};
use serde::Deserialize;

/// The host refuses event types and keys longer than this.
const MAX_LEN: usize = 1024;

/// The escapes HubSpot decodes in the URL before it signs it (v3), in upper case.
const DECODED: [(&str, char); 12] = [
    ("3A", ':'),
    ("2F", '/'),
    ("3F", '?'),
    ("40", '@'),
    ("21", '!'),
    ("24", '$'),
    ("27", '\''),
    ("28", '('),
    ("29", ')'),
    ("2A", '*'),
    ("2C", ','),
    ("3B", ';'),
];

pub struct HubSpot;

/// One event of a webhook batch.
#[derive(Deserialize)]
struct Event {
    #[serde(rename = "subscriptionType")]
    subscription_type: Option<String>,
    #[serde(rename = "eventId")]
    event_id: Option<serde_json::Value>,
}

impl Plugin for HubSpot {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "hubspot",
            env!("CARGO_PKG_VERSION"),
            "HubSpot webhooks, signed with X-HubSpot-Signature-v3 (or the legacy v1/v2)",
        )
        .secret()
        .tolerance()
        .field(ConfigField {
            name: "require_v3".into(),
            description: "`true` to refuse requests signed only with the legacy v1 or v2 \
                          signature (which have no replay window)"
                .into(),
            required: false,
            secret: false,
        })
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        if let Some(signature) = request.header("x-hubspot-signature-v3") {
            if let Err(reason) = verify_v3(request, config, signature) {
                return Verdict::reject(reason);
            }
        } else if config.get("require_v3") == Some("true") {
            return Verdict::reject("missing v3 signature");
        } else if let Err(reason) = verify_legacy(request, config) {
            return Verdict::reject(reason);
        }
        accepted(&request.body)
    }
}

fn verify_v3(request: &Request, config: &Config, signature: &str) -> Result<(), &'static str> {
    let Some(timestamp) = request.header("x-hubspot-request-timestamp") else {
        return Err("missing timestamp");
    };
    let signed = v3_bytes(&request.method, &request.url, &request.body, timestamp);
    let genuine = base64_decode(signature).is_some_and(|signature| {
        config.signed_by_any_secret(HashAlgorithm::Sha256, &signed, &signature)
    });
    if !genuine {
        return Err("invalid signature");
    }
    // Milliseconds; parsed only once the signature shows HubSpot sent it.
    let Ok(millis) = timestamp.parse::<i64>() else {
        return Err("malformed timestamp");
    };
    if request.is_fresh(millis.div_euclid(1000), config) {
        Ok(())
    } else {
        Err("stale timestamp")
    }
}

fn verify_legacy(request: &Request, config: &Config) -> Result<(), &'static str> {
    let Some(signature) = request.header("x-hubspot-signature") else {
        return Err("missing signature");
    };
    let with_request = match request.header("x-hubspot-signature-version") {
        Some("v1") => false,
        Some("v2") => true,
        _ => return Err("unsupported signature version"),
    };
    let genuine = hex_decode(signature).is_some_and(|signature| {
        config.secrets().any(|secret| {
            let source = legacy_bytes(secret, with_request, request);
            constant_time_eq(&signature, &digest(HashAlgorithm::Sha256, &source))
        })
    });
    if genuine {
        Ok(())
    } else {
        Err("invalid signature")
    }
}

/// v3's source: method, URL (with HubSpot's decoding), body, timestamp as sent.
fn v3_bytes(method: &str, url: &str, body: &[u8], timestamp: &str) -> Vec<u8> {
    let mut signed = method.as_bytes().to_vec();
    signed.extend_from_slice(v3_url(url).as_bytes());
    signed.extend_from_slice(body);
    signed.extend_from_slice(timestamp.as_bytes());
    signed
}

/// v1's source (secret + body) or v2's (secret + method + URL + body).
fn legacy_bytes(secret: &str, with_request: bool, request: &Request) -> Vec<u8> {
    let mut source = secret.as_bytes().to_vec();
    if with_request {
        source.extend_from_slice(request.method.as_bytes());
        source.extend_from_slice(request.url.as_bytes());
    }
    source.extend_from_slice(&request.body);
    source
}

/// The URL with only HubSpot's listed escapes decoded (either hex case).
fn v3_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i + 1..i + 3);
        let decoded = escape.and_then(|hex| {
            DECODED
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(hex))
                .map(|(_, c)| *c)
        });
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[i + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The accept, with the batch's common type and a lone event's id.
fn accepted(body: &[u8]) -> Verdict {
    let events = serde_json::from_slice::<Vec<Event>>(body).unwrap_or_default();
    let mut types = events.iter().map(|e| e.subscription_type.as_deref());
    let first = types.next().flatten();
    let event_type = first.filter(|t| types.all(|other| other == Some(t)));
    let key = match events.as_slice() {
        [only] => match &only.event_id {
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            Some(serde_json::Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    };
    Verdict::accept()
        .with_event_type(bounded(event_type))
        .with_idempotency_key(bounded(key.as_deref()))
}

fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
}

/// HubSpot's side, for the conformance cases: v3 by default, at `received_at` in
/// milliseconds; `v1` or `v2` when the signing config's `signature_version` says so.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for HubSpot {
    fn sign(request: &mut Request, config: &Config) {
        let secret = config.secret().unwrap_or_default();
        let version = config.get("signature_version").unwrap_or("v3");
        if version == "v3" {
            // HubSpot decodes the listed escapes, the method, URL, body and timestamp follow.
            let timestamp = (request.received_at * 1000).to_string();
            let signed = v3_bytes(&request.method, &request.url, &request.body, &timestamp);
            let signature = inlet_sdk::base64_encode(&inlet_sdk::crypto::hmac_sha256(
                secret.as_bytes(),
                &signed,
            ));
            request
                .headers
                .push(("x-hubspot-signature-v3".into(), signature));
            request
                .headers
                .push(("x-hubspot-request-timestamp".into(), timestamp));
        } else {
            let mut source = secret.as_bytes().to_vec();
            if version == "v2" {
                source.extend_from_slice(request.method.as_bytes());
                source.extend_from_slice(request.url.as_bytes());
            }
            source.extend_from_slice(&request.body);
            let signature = inlet_sdk::hex_encode(&digest(HashAlgorithm::Sha256, &source));
            request
                .headers
                .push(("x-hubspot-signature".into(), signature));
            request
                .headers
                .push(("x-hubspot-signature-version".into(), version.into()));
        }
    }
}

inlet_sdk::export_plugin!(HubSpot);

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_sdk::crypto::hmac_sha256;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<HubSpot>(include_str!("../cases.json"));
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = Request::post("[]").with_header("X-HubSpot-Signature-v3", "AA==");
        assert_eq!(
            HubSpot::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn only_the_listed_escapes_are_decoded() {
        assert_eq!(
            v3_url("https://h/p%3Aa%2fb?x=%3F%40%21%24%27%28%29%2A%2C%3B&y=%20%25%2B%zz%"),
            "https://h/p:a/b?x=?@!$'()*,;&y=%20%25%2B%zz%"
        );
        assert_eq!(v3_url("https://h/p"), "https://h/p");
        assert_eq!(v3_url("%3"), "%3");
    }

    #[test]
    fn a_failed_v3_signature_does_not_fall_back_to_v1() {
        let config = Config::with_secret("s");
        let v1 = inlet_sdk::hex_encode(&digest(HashAlgorithm::Sha256, b"s[]"));
        let request = Request::post("[]")
            .with_header("X-HubSpot-Signature", &v1)
            .with_header("X-HubSpot-Signature-Version", "v1");
        assert!(HubSpot::verify(&request, &config).is_accept());
        let with_bad_v3 = request
            .clone()
            .with_header("X-HubSpot-Signature-v3", "AA==")
            .with_header("X-HubSpot-Request-Timestamp", "1700000000000");
        assert_eq!(
            HubSpot::verify(&with_bad_v3, &config),
            Verdict::reject("invalid signature")
        );
        let strict = config.with_field("require_v3", "true");
        assert_eq!(
            HubSpot::verify(&request, &strict),
            Verdict::reject("missing v3 signature")
        );
    }

    #[test]
    fn malformed_timestamps_and_versions_are_rejected() {
        let config = Config::with_secret("s");
        for timestamp in ["", "x", "99999999999999999999", "-1"] {
            let signed = v3_bytes("POST", inlet_sdk::TEST_URL, b"[]", timestamp);
            let signature = inlet_sdk::base64_encode(&hmac_sha256(b"s", &signed));
            let request = Request::post("[]")
                .received(1_700_000_000)
                .with_header("X-HubSpot-Signature-v3", &signature)
                .with_header("X-HubSpot-Request-Timestamp", timestamp);
            assert!(
                !HubSpot::verify(&request, &config).is_accept(),
                "{timestamp:?}"
            );
        }
        for version in ["", "v3", "V1", "v0"] {
            let request = Request::post("[]")
                .with_header("X-HubSpot-Signature", "00")
                .with_header("X-HubSpot-Signature-Version", version);
            assert_eq!(
                HubSpot::verify(&request, &config),
                Verdict::reject("unsupported signature version")
            );
        }
    }

    #[test]
    fn mixed_batches_have_no_common_type_or_key() {
        let body = r#"[{"eventId":1,"subscriptionType":"contact.creation"},
                       {"eventId":2,"subscriptionType":"deal.creation"}]"#;
        assert_eq!(accepted(body.as_bytes()), Verdict::accept());
        let same = r#"[{"eventId":1,"subscriptionType":"contact.creation"},
                       {"eventId":2,"subscriptionType":"contact.creation"}]"#;
        assert_eq!(
            accepted(same.as_bytes()),
            Verdict::accept().with_event_type("contact.creation")
        );
        assert_eq!(accepted(b"{}"), Verdict::accept());
        assert_eq!(accepted(b"[]"), Verdict::accept());
    }
}
