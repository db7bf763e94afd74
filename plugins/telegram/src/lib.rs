//! Telegram Bot API webhooks. Telegram signs nothing: `setWebhook`'s `secret_token` comes back
//! verbatim in `X-Telegram-Bot-Api-Secret-Token` on every update, so that header is compared
//! in constant time with the source's secret (any active one, for rotation) and is declared
//! a credential header (masked in stored events). Telegram sends no timestamp (no replay
//! window) and has no handshake.
//!
//! The body is one JSON `Update`: its `update_id` (an integer) is the idempotency key, and the
//! update's kind, the one other field it carries (`message`, `edited_message`,
//! `callback_query`, `inline_query`, `my_chat_member`, ...), the event type. A genuine body
//! that is not such an object is still accepted, with neither.

use std::collections::BTreeMap;

use inlet_sdk::crypto::constant_time_eq;
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict};
use serde_json::value::RawValue;

const HEADER: &str = "x-telegram-bot-api-secret-token";
/// The host refuses longer event types and keys.
const MAX_LEN: usize = 1024;

pub struct Telegram;

impl Plugin for Telegram {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "telegram",
            env!("CARGO_PKG_VERSION"),
            "Telegram Bot API webhooks, authenticated by X-Telegram-Bot-Api-Secret-Token",
        )
        .secret()
        .credential_header(HEADER)
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let Some(token) = request.header(HEADER) else {
            return Verdict::reject("missing secret token");
        };
        let genuine = config
            .secrets()
            .any(|secret| constant_time_eq(token.as_bytes(), secret.as_bytes()));
        if !genuine {
            return Verdict::reject("invalid secret token");
        }
        let (kind, id) = kind_and_id(&request.body);
        Verdict::accept()
            .with_event_type(kind.as_deref())
            .with_idempotency_key(id.as_deref())
    }
}

/// The update's kind (its first field other than `update_id`) and its `update_id`.
fn kind_and_id(body: &[u8]) -> (Option<String>, Option<String>) {
    let Ok(update) = serde_json::from_slice::<BTreeMap<String, &RawValue>>(body) else {
        return (None, None);
    };
    let kind = update
        .keys()
        .find(|key| *key != "update_id" && key.len() <= MAX_LEN)
        .cloned();
    // An integer only (Telegram's ids are), printed as Telegram sent it.
    let id = update
        .get("update_id")
        .and_then(|id| serde_json::from_str::<i64>(id.get()).ok())
        .map(|id| id.to_string());
    (kind, id)
}

/// Telegram's side, for the conformance cases: it sends the secret token as a header.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Telegram {
    fn sign(request: &mut Request, config: &Config) {
        let token = config.secret().unwrap_or_default().to_string();
        request.headers.push((HEADER.into(), token));
    }
}

inlet_sdk::export_plugin!(Telegram);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Telegram>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_its_credential_header() {
        let info = Telegram::describe();
        assert_eq!(info.credential_headers, [HEADER]);
        assert!(info.config[0].secret && info.config[0].required);
    }

    #[test]
    fn kinds_and_ids() {
        let cases = [
            (
                r#"{"update_id":1,"message":{}}"#,
                Some("message"),
                Some("1"),
            ),
            (
                r#"{"callback_query":{},"update_id":9007199254740993}"#,
                Some("callback_query"),
                Some("9007199254740993"),
            ),
            (r#"{"update_id":1}"#, None, Some("1")),
            (r#"{"update_id":"1","message":{}}"#, Some("message"), None),
            (r#"{"update_id":1.5,"message":{}}"#, Some("message"), None),
            ("[]", None, None),
            ("", None, None),
        ];
        for (body, kind, id) in cases {
            let (k, i) = kind_and_id(body.as_bytes());
            assert_eq!((k.as_deref(), i.as_deref()), (kind, id), "{body}");
        }
    }

    #[test]
    fn fails_closed_and_compares_the_whole_token() {
        let request = Request::post("{}").with_header(HEADER, "s3cret");
        assert_eq!(
            Telegram::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
        let config = Config::with_secret("s3cret");
        for token in ["", "s3cre", "s3cret ", "S3CRET"] {
            let request = Request::post("{}").with_header(HEADER, token);
            assert_eq!(
                Telegram::verify(&request, &config),
                Verdict::reject("invalid secret token"),
                "{token:?}"
            );
        }
    }
}
