//! Dropbox Sign (formerly HelloSign) event callbacks; the secret is the account's API key
//! (for app callbacks, the API key of the app's owner).
//!
//! - What is checked: no header. The callback is a `multipart/form-data` POST whose `json`
//!   field holds the event (a urlencoded `json` field or a plain JSON body are read too).
//!   Its `event.event_hash` must be the lower-case hex HMAC-SHA256, with the API key, of
//!   `event.event_time` followed by `event.event_type`. A hash made with any active secret is
//!   accepted (rotation). This is the only scheme Dropbox Sign has, and it signs only those
//!   two fields, not the rest of the body: a captured callback's hash can be replayed with
//!   other contents while its `event_time` is fresh, which the replay window bounds.
//! - Replay window: `event_time` (Unix seconds) must be within `tolerance_seconds` (300 by
//!   default) of the receive time, checked after the hash. Dropbox Sign keeps `event_time`
//!   when it retries a callback that was not acknowledged, so raise `tolerance_seconds` to
//!   accept late retries.
//! - Handshake: none (the `callback_test` event sent when a callback URL is set is an ordinary
//!   event). Dropbox Sign expects the answer body to contain `Hello API Event Received`, or it
//!   retries and eventually disables the callback: the event must be stored (an accept), so
//!   the operator sets the source's custom response body to `Hello API Event Received`.
//!   Nothing the plugin answers signs anything.
//! - Event type: `event.event_type`. Idempotency key: `<event_time>.<event_type>`, followed by
//!   `.<signature_request_id>` when the event concerns a signature request (two requests'
//!   events can share a second and a type).

use inlet_sdk::crypto::{constant_time_eq, hmac_sha256};
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, hex_decode};
use serde::Deserialize;
use std::borrow::Cow;

/// The most of the event type and id taken (the host refuses longer than 1 KiB).
const MAX_LEN: usize = 1024;

pub struct DropboxSign;

/// The parts of the callback the plugin reads.
#[derive(Deserialize)]
struct Callback<'a> {
    #[serde(borrow)]
    event: Event<'a>,
    #[serde(borrow, default)]
    signature_request: Option<SignatureRequest<'a>>,
}

#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow)]
    event_time: Cow<'a, str>,
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    event_hash: Cow<'a, str>,
}

#[derive(Deserialize)]
struct SignatureRequest<'a> {
    #[serde(borrow, default)]
    signature_request_id: Option<Cow<'a, str>>,
}

/// The event JSON: the `json` field of a multipart or urlencoded form, else the body.
fn event_json(request: &Request) -> Option<Cow<'_, [u8]>> {
    let content_type = request.header("content-type").unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("multipart/form-data") {
        let boundary = content_type.split(';').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.eq_ignore_ascii_case("boundary")
                .then(|| v.trim_matches('"'))
        })?;
        multipart_field(&request.body, boundary, "json").map(Cow::Borrowed)
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        let form = request.form();
        let (_, json) = form.into_iter().find(|(k, _)| k == "json")?;
        Some(Cow::Owned(json.into_bytes()))
    } else {
        Some(Cow::Borrowed(&request.body))
    }
}

/// The content of the first part named `name` of a `multipart/form-data` body.
fn multipart_field<'a>(body: &'a [u8], boundary: &str, name: &str) -> Option<&'a [u8]> {
    if boundary.is_empty() || boundary.len() > 70 {
        return None; // RFC 2046's limit
    }
    let delimiter = format!("--{boundary}").into_bytes();
    let mut rest = body;
    // Skip the preamble up to the first delimiter.
    let start = find(rest, &delimiter)?;
    rest = &rest[start + delimiter.len()..];
    loop {
        // After a delimiter: `--` closes the body, else CRLF starts a part.
        rest = rest.strip_prefix(b"\r\n")?;
        let end = find(rest, &[b"\r\n", delimiter.as_slice()].concat())?;
        let part = &rest[..end];
        rest = &rest[end + 2 + delimiter.len()..];
        let split = find(part, b"\r\n\r\n")?;
        let (headers, content) = (&part[..split], &part[split + 4..]);
        let named = std::str::from_utf8(headers).ok().is_some_and(|headers| {
            headers.split("\r\n").any(|line| {
                let Some((field, value)) = line.split_once(':') else {
                    return false;
                };
                field.trim().eq_ignore_ascii_case("content-disposition")
                    && value.split(';').skip(1).any(|param| {
                        param.trim().split_once('=').is_some_and(|(k, v)| {
                            k.trim().eq_ignore_ascii_case("name")
                                && v.trim().trim_matches('"') == name
                        })
                    })
            })
        });
        if named {
            return Some(content);
        }
        if rest.starts_with(b"--") {
            return None;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Plugin for DropboxSign {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "dropbox-sign",
            env!("CARGO_PKG_VERSION"),
            "Dropbox Sign (HelloSign) event callbacks, verified by event_hash; set the \
             source's response body to 'Hello API Event Received'",
        )
        .secret()
        .tolerance()
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let Some(json) = event_json(request) else {
            return Verdict::reject("missing json field");
        };
        let Ok(callback) = serde_json::from_slice::<Callback>(&json) else {
            return Verdict::reject("missing event hash");
        };
        let event = &callback.event;
        let signed = format!("{}{}", event.event_time, event.event_type);
        let genuine = hex_decode(&event.event_hash).is_some_and(|hash| {
            config.secrets().any(|secret| {
                constant_time_eq(&hash, &hmac_sha256(secret.as_bytes(), signed.as_bytes()))
            })
        });
        if !genuine {
            return Verdict::reject("invalid event hash");
        }
        let fresh = event
            .event_time
            .parse::<i64>()
            .is_ok_and(|time| request.is_fresh(time, config));
        if !fresh {
            return Verdict::reject("stale event_time");
        }
        let mut key = format!("{}.{}", event.event_time, event.event_type);
        if let Some(id) = callback
            .signature_request
            .as_ref()
            .and_then(|s| s.signature_request_id.as_deref())
        {
            key = format!("{key}.{id}");
        }
        Verdict::accept()
            .with_event_type(bounded(Some(&event.event_type)))
            .with_idempotency_key(bounded(Some(&key)))
    }
}

/// A value short and non-empty enough to be an event type or key.
fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
}

/// Dropbox Sign's side, for the conformance cases: it stamps the callback's event with the
/// send time (`event_time`) and its hash (`event_hash`, HMAC-SHA256 with the API key of
/// `event_time` + `event_type`), in the `json` part of a `multipart/form-data` body as it
/// sends it, or in a plain JSON body.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for DropboxSign {
    fn sign(request: &mut Request, config: &Config) {
        let secret = config.secret().unwrap_or_default();
        let time = request.received_at;
        let content_type = request.header("content-type").unwrap_or_default();
        let boundary = content_type
            .split(';')
            .skip(1)
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"').to_string());
        let (start, end) = match boundary {
            // The content of the part named `json`: after its headers, up to the delimiter.
            Some(boundary) => {
                let body = &request.body;
                let Some(named) = find(body, b"name=\"json\"") else {
                    return;
                };
                let Some(start) = find(&body[named..], b"\r\n\r\n").map(|i| named + i + 4) else {
                    return;
                };
                let delimiter = format!("\r\n--{boundary}");
                let Some(end) = find(&body[start..], delimiter.as_bytes()).map(|i| start + i)
                else {
                    return;
                };
                (start, end)
            }
            None => (0, request.body.len()),
        };
        if let Some(json) = stamped(&request.body[start..end], time, secret) {
            request.body.splice(start..end, json);
        }
    }
}

/// A callback's JSON with its event stamped at `time` and hashed with `secret`.
#[cfg(not(target_arch = "wasm32"))]
fn stamped(json: &[u8], time: i64, secret: &str) -> Option<Vec<u8>> {
    let mut callback = serde_json::from_slice::<serde_json::Value>(json).ok()?;
    let event = callback.get_mut("event")?.as_object_mut()?;
    let time = time.to_string();
    let kind = event
        .get("event_type")
        .and_then(|t| t.as_str())
        .unwrap_or_default();
    let hash = hmac_sha256(secret.as_bytes(), format!("{time}{kind}").as_bytes());
    event.insert("event_time".into(), time.into());
    event.insert("event_hash".into(), inlet_sdk::hex_encode(&hash).into());
    Some(callback.to_string().into_bytes())
}

inlet_sdk::export_plugin!(DropboxSign);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    const NOW: i64 = 1_700_000_000;

    /// Computed independently of the plugin (and of the SDK's crypto).
    fn event(key: &str, time: i64, kind: &str) -> String {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{time}{kind}").as_bytes());
        let hash = hex::encode(mac.finalize().into_bytes());
        format!(
            r#"{{"event":{{"event_time":"{time}","event_type":"{kind}","event_hash":"{hash}"}},"signature_request":{{"signature_request_id":"sr1"}}}}"#
        )
    }

    fn multipart(json: &str) -> Request {
        let body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{json}\r\n--XyZ--\r\n"
        );
        Request::post(body)
            .with_header("content-type", "multipart/form-data; boundary=XyZ")
            .received(NOW)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<DropboxSign>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_itself() {
        let info = DropboxSign::describe();
        assert_eq!(info.name, "dropbox-sign");
        assert!(info.config[0].name == "secret" && info.config[1].name == "tolerance_seconds");
    }

    #[test]
    fn multipart_json_and_form_bodies() {
        let config = Config::with_secret("k");
        let expected = Verdict::accept()
            .with_event_type("signature_request_signed")
            .with_idempotency_key("1700000000.signature_request_signed.sr1");
        let json = event("k", NOW, "signature_request_signed");
        assert_eq!(DropboxSign::verify(&multipart(&json), &config), expected);
        let plain = Request::post(json.clone())
            .with_header("content-type", "application/json")
            .received(NOW);
        assert_eq!(DropboxSign::verify(&plain, &config), expected);
        let encoded: String = json.bytes().map(|b| format!("%{b:02X}")).collect();
        let form = Request::post(format!("json={encoded}"))
            .with_header("content-type", "application/x-www-form-urlencoded")
            .received(NOW);
        assert_eq!(DropboxSign::verify(&form, &config), expected);
    }

    #[test]
    fn malformed_multipart_is_refused() {
        let config = Config::with_secret("k");
        let json = event("k", NOW, "callback_test");
        for (content_type, body) in [
            (
                "multipart/form-data",
                format!("--XyZ\r\n\r\n{json}\r\n--XyZ--"),
            ),
            ("multipart/form-data; boundary=", json.clone()),
            ("multipart/form-data; boundary=XyZ", json.clone()),
            (
                "multipart/form-data; boundary=XyZ",
                format!("--XyZ\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{json}"),
            ),
            (
                "multipart/form-data; boundary=XyZ",
                format!(
                    "--XyZ\r\nContent-Disposition: form-data; filename=\"json\"\r\n\r\n{json}\r\n--XyZ--"
                ),
            ),
            ("multipart/form-data; boundary=XyZ", "--XyZ--\r\n".into()),
        ] {
            let request = Request::post(body)
                .with_header("content-type", content_type)
                .received(NOW);
            assert_eq!(
                DropboxSign::verify(&request, &config),
                Verdict::reject("missing json field"),
                "{content_type} {:?}",
                String::from_utf8_lossy(&request.body)
            );
        }
    }

    #[test]
    fn hash_window_and_configuration() {
        let config = Config::with_secret("k");
        assert_eq!(
            DropboxSign::verify(&multipart(&event("other", NOW, "callback_test")), &config),
            Verdict::reject("invalid event hash")
        );
        assert_eq!(
            DropboxSign::verify(&multipart(&event("k", NOW - 301, "callback_test")), &config),
            Verdict::reject("stale event_time")
        );
        assert_eq!(
            DropboxSign::verify(&multipart(r#"{"event":{}}"#), &config),
            Verdict::reject("missing event hash")
        );
        assert_eq!(
            DropboxSign::verify(
                &multipart(&event("k", NOW, "callback_test")),
                &Config::default()
            ),
            Verdict::misconfigured("secret")
        );
        // A Signer-stamped multipart body verifies, its other parts kept.
        let mut request = multipart(r#"{"event":{"event_type":"callback_test"}}"#);
        <DropboxSign as inlet_sdk::conformance::Signer>::sign(&mut request, &config);
        assert!(
            request.body.starts_with(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n"
            )
        );
        assert!(request.body.ends_with(b"}\r\n--XyZ--\r\n"));
        assert_eq!(
            DropboxSign::verify(&request, &config),
            Verdict::accept()
                .with_event_type("callback_test")
                .with_idempotency_key("1700000000.callback_test")
        );
        // A Signer-stamped JSON body verifies.
        let mut request =
            Request::post(r#"{"event":{"event_type":"callback_test"}}"#).received(NOW);
        <DropboxSign as inlet_sdk::conformance::Signer>::sign(&mut request, &config);
        assert_eq!(
            DropboxSign::verify(&request, &config),
            Verdict::accept()
                .with_event_type("callback_test")
                .with_idempotency_key("1700000000.callback_test")
        );
    }
}
