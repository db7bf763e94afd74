//! The request of one delivery attempt, as pure functions of the endpoint, the project's
//! signature settings, the event, the delivery id and the attempt's time: its headers
//! ([`request_headers`]), its body ([`body_of`]) and the headers as an attempt records them
//! ([`masked_headers`]). Every request is a `POST` of the event's body, byte-exact as stored.
//!
//! # Headers Inlet sets
//!
//! - `Content-Type`: the endpoint's `content_type` (`application/json` when empty);
//! - `User-Agent: Inlet/<version>`;
//! - `X-Convoy-Idempotency-Key: <delivery id>`, the same on every retry of a delivery;
//! - the signature: `X-Convoy-Signature` (or the project's `config.signature.header`), or
//!   `webhook-id` (the delivery id), `webhook-timestamp` and `webhook-signature` for
//!   Standard Webhooks (see [`crate::signature`]);
//! - the endpoint's `authentication.api_key` header, when it has one;
//! - `Host` and `Content-Length`, written by the HTTP client.
//!
//! Inlet's own headers replace an event header of the same name; the authentication header
//! yields to the signature and the other headers Inlet sets.
//!
//! # Event headers forwarded
//!
//! Every header of the event (an HTTP source's request headers, a REST event's custom
//! headers) is forwarded, with all its values, except:
//!
//! - hop-by-hop headers, which belong to the connection the event came in on:
//!   `Connection`, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Transfer-Encoding`,
//!   `Upgrade`, `HTTP2-Settings`, and any header the event's `Connection` header names;
//! - framing, and the headers Inlet sets: `Host`, `Content-Length`, `Content-Type`,
//!   `Content-Encoding`, `Accept-Encoding`, `Expect`, `User-Agent`, `X-Convoy-Signature`,
//!   `webhook-id`, `webhook-timestamp`, `webhook-signature`, `X-Convoy-Idempotency-Key`, the
//!   project's signature header and the endpoint's authentication header;
//! - credentials: `Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`;
//! - a header with a value of `********` (`inlet_model::REDACTED`): the store keeps a source
//!   verifier's credential header so, and the placeholder means nothing to the endpoint;
//! - a header whose name or a value is not valid HTTP (that value is skipped).
//!
//! The fixed part of the list is [`NEVER_FORWARDED`].

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue};
use inlet_model::delivery::{
    Endpoint, EndpointSecret, SignatureConfig, SignatureFormat, SignatureVersion,
};
use inlet_model::{Event, FieldError, REDACTED, RawEncoding, Secret, parse_rfc3339};

use crate::signature::{
    ConvoyScheme, Encoding, Hash, SignatureForm, Signer, WEBHOOK_ID, WEBHOOK_TIMESTAMP,
};

/// Convoy's idempotency header: receivers drop a retry they already processed by it.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("x-convoy-idempotency-key");
/// The content type of an endpoint that names none (Convoy's default).
pub const DEFAULT_CONTENT_TYPE: &str = "application/json";
/// Tells the endpoint's operator who is calling, and which version.
pub const USER_AGENT_VALUE: &str = concat!("Inlet/", env!("CARGO_PKG_VERSION"));

/// Event headers never forwarded to an endpoint, in lower case: hop-by-hop headers,
/// framing and the headers Inlet sets itself, and credentials meant for Inlet or its
/// source. Beyond these, the project's signature header, the endpoint's authentication
/// header, the headers the event's `Connection` header names, and headers whose value is
/// [`REDACTED`] are not forwarded either.
pub const NEVER_FORWARDED: &[&str] = &[
    // Hop-by-hop (RFC 9110 §7.6.1).
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "http2-settings",
    // Framing, and the headers Inlet sets.
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "accept-encoding",
    "expect",
    "user-agent",
    "x-convoy-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-convoy-idempotency-key",
    // Credentials.
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

/// The headers of one attempt of the delivery `delivery_id` of `event` to `endpoint`, at
/// `now_unix` (unix seconds, the signature's timestamp and what decides which secrets are
/// live), signing `body` (from [`body_of`]). The signature and authentication values are
/// marked sensitive, which [`masked_headers`] masks.
///
/// Errors name the field at fault: `secrets` (no live secret, or one the form cannot use),
/// `config.signature.*`, `content_type`, `authentication.api_key.*`, `delivery_id`, or
/// `timestamp` (a clock before 1970). Invalid event headers are skipped, never an error.
pub fn request_headers(
    endpoint: &Endpoint,
    project_signature: &SignatureConfig,
    event: &Event,
    delivery_id: &str,
    now_unix: i64,
    body: &[u8],
) -> Result<HeaderMap, FieldError> {
    let form = signature_form(endpoint, project_signature)?;
    let signer = Signer::new(form, &live_secrets(&endpoint.secrets, now_unix), "secrets")?;
    let timestamp =
        u64::try_from(now_unix).map_err(|_| FieldError::new("timestamp", "is before 1970"))?;
    let signature = signer
        .headers(delivery_id, timestamp, body)
        .map_err(|e| FieldError::new("delivery_id", e.to_string()))?;
    // Checked by the signer: visible ASCII.
    let idempotency_key = HeaderValue::from_str(delivery_id)
        .map_err(|_| FieldError::new("delivery_id", "is not a valid header value"))?;
    let authentication = authentication(endpoint)?;
    let content_type = content_type(endpoint)?;

    let mut own: Vec<&HeaderName> = signature.iter().map(|(name, _)| name).collect();
    own.extend(authentication.as_ref().map(|(name, _)| name));
    let mut headers = HeaderMap::new();
    forward(&event.headers, &own, &mut headers);
    if let Some((name, value)) = authentication {
        headers.insert(name, value);
    }
    headers.insert(CONTENT_TYPE, content_type);
    headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    headers.insert(IDEMPOTENCY_KEY, idempotency_key);
    for (name, mut value) in signature {
        // The id and timestamp are plain facts; the signature is what is masked.
        value.set_sensitive(name != WEBHOOK_ID && name != WEBHOOK_TIMESTAMP);
        headers.insert(name, value);
    }
    Ok(headers)
}

/// The endpoint's form, with the project's header, and hash and encoding of its first
/// version (the `v1` the signatures are labelled with) for the Convoy forms.
fn signature_form(
    endpoint: &Endpoint,
    config: &SignatureConfig,
) -> Result<SignatureForm, FieldError> {
    if endpoint.signature_format == SignatureFormat::StandardWebhooks {
        return Ok(SignatureForm::StandardWebhooks);
    }
    let default = SignatureVersion::default();
    let version = config.versions.first().unwrap_or(&default);
    let scheme = ConvoyScheme {
        header: ConvoyScheme::parse_header(&config.header, "config.signature.header")?,
        hash: Hash::parse(&version.hash, "config.signature.versions[0].hash")?,
        encoding: Encoding::parse(&version.encoding, "config.signature.versions[0].encoding")?,
    };
    Ok(if endpoint.advanced_signatures {
        SignatureForm::ConvoyAdvanced(scheme)
    } else {
        SignatureForm::ConvoySimple(scheme)
    })
}

/// The secrets that sign at `now_unix`, oldest first (by `created_at`, else as stored): those
/// without an expiry, or expiring later. An expiry that is not RFC 3339 counts as passed, so
/// a secret meant to retire is never used longer than meant.
fn live_secrets(secrets: &[EndpointSecret], now_unix: i64) -> Vec<Secret> {
    let mut live: Vec<&EndpointSecret> = secrets
        .iter()
        .filter(|secret| match secret.expires_at.as_deref().map(str::trim) {
            None | Some("") => true,
            Some(at) => parse_rfc3339(at).is_some_and(|at| at.unix_timestamp() > now_unix),
        })
        .collect();
    live.sort_by_key(|secret| parse_rfc3339(&secret.created_at));
    live.into_iter()
        .map(|secret| secret.value.clone())
        .collect()
}

fn authentication(endpoint: &Endpoint) -> Result<Option<(HeaderName, HeaderValue)>, FieldError> {
    let Some(authentication) = &endpoint.authentication else {
        return Ok(None);
    };
    let api_key = &authentication.api_key;
    let name = HeaderName::from_bytes(api_key.header_name.trim().as_bytes()).map_err(|_| {
        FieldError::new(
            "authentication.api_key.header_name",
            "must be a valid HTTP header name",
        )
    })?;
    // The message never repeats the secret.
    let mut value = HeaderValue::from_str(api_key.header_value.expose()).map_err(|_| {
        FieldError::new(
            "authentication.api_key.header_value",
            "must be a valid HTTP header value",
        )
    })?;
    value.set_sensitive(true);
    Ok(Some((name, value)))
}

fn content_type(endpoint: &Endpoint) -> Result<HeaderValue, FieldError> {
    let text = endpoint.content_type.trim();
    let text = if text.is_empty() {
        DEFAULT_CONTENT_TYPE
    } else {
        text
    };
    HeaderValue::from_str(text)
        .map_err(|_| FieldError::new("content_type", "must be a valid HTTP header value"))
}

/// Appends the event's headers that are forwarded (see the module documentation); `own` are
/// the names of the signature and authentication headers of this endpoint.
fn forward(
    event_headers: &BTreeMap<String, Vec<String>>,
    own: &[&HeaderName],
    into: &mut HeaderMap,
) {
    // `Connection: close, x-hop` makes `x-hop` hop-by-hop too.
    let named_by_connection: Vec<String> = event_headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, values)| values)
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .collect();
    for (name, values) in event_headers {
        let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        let never = NEVER_FORWARDED.contains(&name.as_str())
            || own.contains(&&name)
            || named_by_connection
                .iter()
                .any(|named| named == name.as_str())
            || values.iter().any(|value| value == REDACTED);
        if never {
            continue;
        }
        for value in values {
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                into.append(name.clone(), value);
            }
        }
    }
}

/// The body of every attempt: the event's body byte-exact as stored. An error only when a
/// stored base64 body does not decode (a damaged record): sending its text instead would
/// deliver, and sign, bytes the source never sent.
pub fn body_of(event: &Event) -> Result<Bytes, FieldError> {
    match event.raw_encoding {
        RawEncoding::Utf8 => Ok(Bytes::copy_from_slice(event.raw.as_bytes())),
        RawEncoding::Base64 => BASE64
            .decode(&event.raw)
            .map(Bytes::from)
            .map_err(|_| FieldError::new("raw", "is not valid base64")),
        RawEncoding::Data => Ok(Bytes::copy_from_slice(event.data.get().as_bytes())),
    }
}

/// Headers as an attempt records them (request or response): by name, several values joined
/// with `", "`, values marked sensitive (the signature and authentication headers of
/// [`request_headers`]) as [`REDACTED`], bytes that are not UTF-8 replaced. A signature
/// reveals nothing of its key, but masking it keeps a recorded request from being replayed.
pub fn masked_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .keys()
        .map(|name| {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|value| {
                    if value.is_sensitive() {
                        REDACTED.to_string()
                    } else {
                        String::from_utf8_lossy(value.as_bytes()).into_owned()
                    }
                })
                .collect();
            (name.as_str().to_string(), values.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Every expected signature is computed here with `hmac` and `sha2` directly, never with
    //! the `Signer`.

    use super::*;

    use hmac::{Hmac, Mac};
    use inlet_model::delivery::{
        ApiKeyAuthentication, EndpointAuthentication, EndpointStatus, EndpointType,
    };
    use serde_json::value::RawValue;
    use sha2::{Sha256, Sha512};

    const NOW: i64 = 1_700_000_000;
    const DELIVERY: &str = "01JDELIVERY0000000000000000";
    const BODY: &[u8] = br#"{"id":"ev_1","amount":1000}"#;

    fn mac256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    fn mac512(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha512>::new_from_slice(key).unwrap();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().to_vec()
    }

    fn secret(value: &str, created_at: &str, expires_at: Option<&str>) -> EndpointSecret {
        EndpointSecret {
            uid: format!("sec_{value}"),
            value: Secret::new(value),
            expires_at: expires_at.map(str::to_string),
            created_at: created_at.to_string(),
            updated_at: created_at.to_string(),
        }
    }

    fn endpoint(format: SignatureFormat, advanced: bool, secrets: Vec<EndpointSecret>) -> Endpoint {
        Endpoint {
            uid: "ep_1".into(),
            project_id: "p_1".into(),
            owner_id: String::new(),
            url: "https://hooks.example.com/in".into(),
            name: "receiver".into(),
            secrets,
            advanced_signatures: advanced,
            signature_format: format,
            description: String::new(),
            status: EndpointStatus::Active,
            http_timeout: 10,
            rate_limit: 0,
            rate_limit_duration: 0,
            ordered: false,
            content_type: String::new(),
            authentication: None,
            kind: EndpointType::Http,
            kafka: None,
            created_at: "2023-01-01T00:00:00Z".into(),
            updated_at: "2023-01-01T00:00:00Z".into(),
        }
    }

    fn convoy(advanced: bool, secrets: &[&str]) -> Endpoint {
        let secrets = secrets
            .iter()
            .enumerate()
            .map(|(i, value)| secret(value, &format!("2023-01-0{}T00:00:00Z", i + 1), None))
            .collect();
        endpoint(SignatureFormat::Convoy, advanced, secrets)
    }

    fn event(headers: &[(&str, &[&str])]) -> Event {
        Event {
            uid: "ev_1".into(),
            event_type: "invoice.paid".into(),
            project_id: "p_1".into(),
            source_id: String::new(),
            endpoint_id: None,
            owner_id: None,
            headers: headers
                .iter()
                .map(|(name, values)| {
                    let values = values.iter().map(|v| v.to_string()).collect();
                    (name.to_string(), values)
                })
                .collect(),
            url_query_params: String::new(),
            url_path: String::new(),
            idempotency_key: String::new(),
            is_duplicate_event: false,
            is_meta_event: false,
            data: RawValue::from_string(String::from_utf8(BODY.to_vec()).unwrap()).unwrap(),
            raw: String::from_utf8(BODY.to_vec()).unwrap(),
            raw_encoding: RawEncoding::Utf8,
            broker: None,
            created_at: String::new(),
        }
    }

    fn headers_of(endpoint: &Endpoint, event: &Event) -> HeaderMap {
        request_headers(
            endpoint,
            &SignatureConfig::default(),
            event,
            DELIVERY,
            NOW,
            BODY,
        )
        .unwrap()
    }

    fn text<'h>(headers: &'h HeaderMap, name: &str) -> &'h str {
        headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {headers:?}"))
            .to_str()
            .unwrap()
    }

    #[test]
    fn convoy_simple_signs_with_the_newest_live_secret() {
        let headers = headers_of(&convoy(false, &["old", "new"]), &event(&[]));
        assert_eq!(
            text(&headers, "x-convoy-signature"),
            hex::encode(mac256(b"new", &[BODY]))
        );
    }

    #[test]
    fn convoy_advanced_with_two_live_secrets_carries_two_v1_entries() {
        let headers = headers_of(&convoy(true, &["old", "new"]), &event(&[]));
        let signed: &[&[u8]] = &[b"1700000000,", BODY];
        assert_eq!(
            text(&headers, "x-convoy-signature"),
            format!(
                "t=1700000000,v1={},v1={}",
                hex::encode(mac256(b"old", signed)),
                hex::encode(mac256(b"new", signed))
            )
        );
    }

    #[test]
    fn convoy_follows_the_projects_header_hash_and_encoding() {
        let config = SignatureConfig {
            header: "X-Acme-Signature".into(),
            versions: vec![
                SignatureVersion {
                    hash: "SHA512".into(),
                    encoding: "base64".into(),
                },
                SignatureVersion::default(),
            ],
        };
        let headers = request_headers(
            &convoy(true, &["s"]),
            &config,
            &event(&[("x-convoy-signature", &["upstream"])]),
            DELIVERY,
            NOW,
            BODY,
        )
        .unwrap();
        assert_eq!(
            text(&headers, "x-acme-signature"),
            format!(
                "t=1700000000,v1={}",
                BASE64.encode(mac512(b"s", &[b"1700000000,", BODY]))
            )
        );
        assert!(headers.get("x-convoy-signature").is_none(), "{headers:?}");
    }

    #[test]
    fn standard_webhooks_headers_use_the_delivery_id_and_every_live_secret() {
        let (old_key, new_key) = ([7u8; 24], [9u8; 32]);
        let secrets = vec![
            secret(
                &format!("whsec_{}", BASE64.encode(new_key)),
                "2023-06-01T00:00:00Z",
                None,
            ),
            secret(
                &format!("whsec_{}", BASE64.encode(old_key)),
                "2023-01-01T00:00:00Z",
                Some("2023-11-14T22:13:21Z"),
            ),
        ];
        let endpoint = endpoint(SignatureFormat::StandardWebhooks, false, secrets);
        let headers = headers_of(&endpoint, &event(&[]));
        let signed: &[&[u8]] = &[DELIVERY.as_bytes(), b".1700000000.", BODY];
        assert_eq!(text(&headers, "webhook-id"), DELIVERY);
        assert_eq!(text(&headers, "webhook-timestamp"), "1700000000");
        // Oldest first, whatever the stored order; the old one expires a second from now.
        assert_eq!(
            text(&headers, "webhook-signature"),
            format!(
                "v1,{} v1,{}",
                BASE64.encode(mac256(&old_key, signed)),
                BASE64.encode(mac256(&new_key, signed))
            )
        );
        assert!(headers.get("x-convoy-signature").is_none());
    }

    #[test]
    fn an_expired_secret_does_not_sign() {
        let secrets = vec![
            secret(
                "expired",
                "2023-01-01T00:00:00Z",
                Some("2023-11-14T22:13:20Z"),
            ),
            secret("unreadable", "2023-01-02T00:00:00Z", Some("next tuesday")),
            secret(
                "live",
                "2023-01-03T00:00:00Z",
                Some("2030-01-01T00:00:00+02:00"),
            ),
        ];
        let headers = headers_of(
            &endpoint(SignatureFormat::Convoy, true, secrets),
            &event(&[]),
        );
        assert_eq!(
            text(&headers, "x-convoy-signature"),
            format!(
                "t=1700000000,v1={}",
                hex::encode(mac256(b"live", &[b"1700000000,", BODY]))
            )
        );

        let all_expired = vec![secret(
            "x",
            "2023-01-01T00:00:00Z",
            Some("2020-01-01T00:00:00Z"),
        )];
        let error = request_headers(
            &endpoint(SignatureFormat::Convoy, true, all_expired),
            &SignatureConfig::default(),
            &event(&[]),
            DELIVERY,
            NOW,
            BODY,
        )
        .unwrap_err();
        assert_eq!(error.field, "secrets");
    }

    #[test]
    fn inlet_sets_content_type_user_agent_idempotency_key_and_authentication() {
        let mut endpoint = convoy(false, &["s"]);
        let headers = headers_of(&endpoint, &event(&[]));
        assert_eq!(text(&headers, "content-type"), "application/json");
        assert_eq!(
            text(&headers, "user-agent"),
            format!("Inlet/{}", env!("CARGO_PKG_VERSION"))
        );
        assert_eq!(text(&headers, "x-convoy-idempotency-key"), DELIVERY);

        endpoint.content_type = "application/x-www-form-urlencoded".into();
        endpoint.authentication = Some(EndpointAuthentication {
            kind: "api_key".into(),
            api_key: ApiKeyAuthentication {
                header_name: "X-Api-Key".into(),
                header_value: Secret::new("key-123"),
            },
        });
        let event = event(&[
            ("x-api-key", &["from the source"]),
            ("content-type", &["text/plain"]),
        ]);
        let headers = headers_of(&endpoint, &event);
        assert_eq!(
            text(&headers, "content-type"),
            "application/x-www-form-urlencoded"
        );
        assert_eq!(
            headers.get_all("x-api-key").iter().collect::<Vec<_>>(),
            ["key-123"]
        );
    }

    #[test]
    fn bad_configuration_names_its_field() {
        let call = |endpoint: &Endpoint, config: &SignatureConfig, id: &str, now: i64| {
            request_headers(endpoint, config, &event(&[]), id, now, BODY)
                .unwrap_err()
                .field
        };
        let config = SignatureConfig::default();
        let good = convoy(false, &["s"]);
        let mut bad = good.clone();
        bad.content_type = "text/plain\r\nX-Injected: 1".into();
        assert_eq!(call(&bad, &config, DELIVERY, NOW), "content_type");
        let mut bad = good.clone();
        bad.authentication = Some(EndpointAuthentication {
            kind: "api_key".into(),
            api_key: ApiKeyAuthentication {
                header_name: "bad name".into(),
                header_value: Secret::new("v"),
            },
        });
        assert_eq!(
            call(&bad, &config, DELIVERY, NOW),
            "authentication.api_key.header_name"
        );
        let bad_hash = SignatureConfig {
            versions: vec![SignatureVersion {
                hash: "MD5".into(),
                encoding: "hex".into(),
            }],
            ..SignatureConfig::default()
        };
        assert_eq!(
            call(&good, &bad_hash, DELIVERY, NOW),
            "config.signature.versions[0].hash"
        );
        assert_eq!(call(&good, &config, "has.dot", NOW), "delivery_id");
        assert_eq!(call(&good, &config, DELIVERY, -1), "timestamp");
    }

    #[test]
    fn event_headers_are_forwarded_except_the_never_forwarded() {
        let event = event(&[
            ("x-github-event", &["push"]),
            ("X-Mixed-Case", &["kept"]),
            ("x-multi", &["a", "b"]),
            ("x-hub-signature-256", &["sha256=abc"]),
            ("connection", &["keep-alive, X-Hop"]),
            ("x-hop", &["dropped"]),
            ("keep-alive", &["timeout=5"]),
            ("transfer-encoding", &["chunked"]),
            ("upgrade", &["websocket"]),
            ("te", &["trailers"]),
            ("host", &["inlet.example.com"]),
            ("content-length", &["999"]),
            ("content-encoding", &["gzip"]),
            ("accept-encoding", &["gzip"]),
            ("user-agent", &["GitHub-Hookshot/1"]),
            ("webhook-signature", &["v1,upstream"]),
            ("x-convoy-idempotency-key", &["upstream"]),
            ("authorization", &["Bearer upstream"]),
            ("cookie", &["session=1"]),
            ("x-verifier-key", &[REDACTED]),
            ("x-partly", &["fine", REDACTED]),
            ("bad name", &["x"]),
            ("x-bad-value", &["line\nbreak", "good"]),
        ]);
        let headers = headers_of(&convoy(false, &["s"]), &event);
        let forwarded = |name: &str| {
            headers
                .get_all(name)
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(forwarded("x-github-event"), ["push"]);
        assert_eq!(forwarded("x-mixed-case"), ["kept"]);
        assert_eq!(forwarded("x-multi"), ["a", "b"]);
        assert_eq!(forwarded("x-hub-signature-256"), ["sha256=abc"]);
        assert_eq!(forwarded("x-bad-value"), ["good"]);
        for dropped in [
            "connection",
            "x-hop",
            "keep-alive",
            "transfer-encoding",
            "upgrade",
            "te",
            "host",
            "content-length",
            "content-encoding",
            "accept-encoding",
            "webhook-signature",
            "authorization",
            "cookie",
            "x-verifier-key",
            "x-partly",
        ] {
            assert!(forwarded(dropped).is_empty(), "{dropped}: {headers:?}");
        }
        assert_eq!(forwarded("user-agent"), [USER_AGENT_VALUE]);
        assert_eq!(forwarded("x-convoy-idempotency-key"), [DELIVERY]);
        assert_eq!(forwarded("content-type"), [DEFAULT_CONTENT_TYPE]);
        let names: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(
            names.len(),
            9,
            "5 forwarded, content-type, user-agent, idempotency key, signature: {names:?}"
        );
    }

    #[test]
    fn masked_headers_hide_signatures_and_authentication_and_join_values() {
        let mut endpoint = endpoint(
            SignatureFormat::StandardWebhooks,
            false,
            vec![secret(
                &format!("whsec_{}", BASE64.encode([1u8; 24])),
                "2023-01-01T00:00:00Z",
                None,
            )],
        );
        endpoint.authentication = Some(EndpointAuthentication {
            kind: "api_key".into(),
            api_key: ApiKeyAuthentication {
                header_name: "Authorization".into(),
                header_value: Secret::new("Bearer key-123"),
            },
        });
        let headers = headers_of(&endpoint, &event(&[("x-multi", &["a", "b"])]));
        let masked = masked_headers(&headers);
        assert_eq!(masked["webhook-signature"], REDACTED);
        assert_eq!(masked["authorization"], REDACTED);
        assert_eq!(masked["webhook-id"], DELIVERY);
        assert_eq!(masked["webhook-timestamp"], "1700000000");
        assert_eq!(masked["x-multi"], "a, b");
        assert_eq!(masked["user-agent"], USER_AGENT_VALUE);
        let shown = format!("{masked:?}");
        assert!(
            !shown.contains("key-123") && !shown.contains("v1,"),
            "{shown}"
        );
    }

    #[test]
    fn body_of_returns_the_stored_bytes_for_each_encoding() {
        let mut event = event(&[]);
        event.raw = "plain text, as received".into();
        assert_eq!(body_of(&event).unwrap(), "plain text, as received");

        let bytes: &[u8] = &[0xff, 0x00, 0xfe, b'{', 0x80];
        event.raw = BASE64.encode(bytes);
        event.raw_encoding = RawEncoding::Base64;
        assert_eq!(body_of(&event).unwrap(), bytes);
        event.raw = "not base64!".into();
        assert_eq!(body_of(&event).unwrap_err().field, "raw");

        event.raw = String::new();
        event.raw_encoding = RawEncoding::Data;
        event.data = RawValue::from_string(r#"{ "spaced" : [1, 2] }"#.into()).unwrap();
        assert_eq!(body_of(&event).unwrap(), r#"{ "spaced" : [1, 2] }"#);
    }
}
