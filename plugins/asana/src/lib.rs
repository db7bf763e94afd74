//! Asana webhooks. The source has no configured secret: Asana hands one over in the
//! handshake, and the plugin keeps it in the source's state.
//!
//! - Handshake: when a webhook is created Asana sends a `POST` carrying `X-Hook-Secret`. If no
//!   secret is kept yet and the value has the shape of one (16 to 128 ASCII letters, digits,
//!   `-` or `_`; Asana's are 64 hex digits), the plugin answers `200` echoing `X-Hook-Secret`
//!   (empty body) and keeps the value as `hook_secret`. Nothing is stored as an event.
//! - First handshake wins: once a secret is kept, any further `X-Hook-Secret` is rejected, so
//!   no one who learns the URL can replace the secret (the echo itself is harmless: it signs
//!   nothing and returns only what the caller sent). Someone who races Asana's own handshake
//!   makes it fail, which shows at once as an error to whoever creates the webhook. Either
//!   way (a hijacked handshake, or a webhook deleted and created again, which brings a new
//!   secret) the operator resets by recreating the source: a new source has a new URL and
//!   an empty state.
//! - Events: `X-Hook-Signature` is the lower-case hex HMAC-SHA256 of the raw body keyed with
//!   the kept secret. Without a kept secret every event is rejected. Asana sends no timestamp
//!   (no replay window) and no delivery id (no idempotency key).
//! - The event type is `<resource_type>.<action>` of the body's first event
//!   (`task.changed`, `story.added`, ...), and none for a heartbeat (`{"events": []}`).

use inlet_sdk::crypto::HashAlgorithm;
use inlet_sdk::{Alphabet, Config, HmacHeader, Plugin, PluginInfo, Request, Verdict};

/// The state entry the handshake's secret is kept under.
const KEPT: &str = "hook_secret";
const MIN_SECRET_LEN: usize = 16;
const MAX_SECRET_LEN: usize = 128;
/// The host refuses longer event types.
const MAX_LEN: usize = 1024;

/// Keyed with the kept secret, not a configured one (see [`kept_secret`]).
const SIGNATURE: HmacHeader = HmacHeader {
    name: "x-hook-signature",
    prefix: "",
    alphabet: Alphabet::Hex,
    algorithm: HashAlgorithm::Sha256,
};

pub struct Asana;

impl Plugin for Asana {
    fn describe() -> PluginInfo {
        // No `.secret()`: the secret arrives in the handshake.
        PluginInfo::new(
            "asana",
            env!("CARGO_PKG_VERSION"),
            "Asana webhooks: keeps the X-Hook-Secret handshake's secret, then checks X-Hook-Signature",
        )
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if let Some(offered) = request.header("x-hook-secret") {
            return handshake(offered, config);
        }
        let Some(kept) = kept_secret(config) else {
            return Verdict::reject("no hook secret kept: the handshake has not happened");
        };
        if let Err(reject) = SIGNATURE.verify(request, &kept, &request.body) {
            return reject;
        }
        let event_type = event_type(&request.body);
        Verdict::accept().with_event_type(event_type.as_deref())
    }
}

/// A configuration whose only secret is the one kept from the handshake (a configured
/// secret is no substitute), to check and make signatures with; `None` before the handshake.
fn kept_secret(config: &Config) -> Option<Config> {
    let secret = config.state(KEPT)?;
    Some(Config {
        secrets: vec![secret.to_string()],
        ..Config::default()
    })
}

fn handshake(offered: &str, config: &Config) -> Verdict {
    if config.state(KEPT).is_some() {
        return Verdict::reject("a hook secret is already kept: recreate the source to reset it");
    }
    if !is_secret(offered) {
        return Verdict::reject("malformed X-Hook-Secret");
    }
    Verdict::Respond {
        status: 200,
        headers: vec![("x-hook-secret".into(), offered.into())],
        body: Vec::new(),
        state: None,
    }
    .keeping(&[(KEPT, offered)])
}

fn is_secret(value: &str) -> bool {
    (MIN_SECRET_LEN..=MAX_SECRET_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `<resource_type>.<action>` of the first event, if the body has one.
fn event_type(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        events: Vec<Event>,
    }
    #[derive(serde::Deserialize)]
    struct Event {
        action: String,
        resource: Resource,
    }
    #[derive(serde::Deserialize)]
    struct Resource {
        resource_type: String,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    let event = body.events.into_iter().next()?;
    let event_type = format!("{}.{}", event.resource.resource_type, event.action);
    (event_type.len() <= MAX_LEN).then_some(event_type)
}

/// Asana's side, for the conformance cases: it signs with the secret it handed over in the
/// handshake (the one the source keeps).
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for Asana {
    fn sign(request: &mut Request, config: &Config) {
        let kept = kept_secret(config).unwrap_or_default();
        let body = request.body.clone();
        SIGNATURE.sign(request, &kept, &body);
    }
}

inlet_sdk::export_plugin!(Asana);

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::Mac;

    const SECRET: &str = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81";

    /// Signs independently of the plugin (and of the SDK's crypto).
    fn signed(body: &str, secret: &str) -> Request {
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        Request::post(body).with_header(
            "X-Hook-Signature",
            &hex::encode(mac.finalize().into_bytes()),
        )
    }

    fn kept() -> Config {
        Config::default().with_state(KEPT, SECRET)
    }

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<Asana>(include_str!("../cases.json"));
    }

    #[test]
    fn declares_no_secret() {
        assert!(Asana::describe().config.is_empty());
    }

    #[test]
    fn the_handshake_keeps_only_a_secret_shaped_value_and_only_once() {
        let offer = |value: &str, config: &Config| {
            Asana::verify(
                &Request::post("").with_header("X-Hook-Secret", value),
                config,
            )
        };
        assert_eq!(
            offer(SECRET, &Config::default()),
            Verdict::Respond {
                status: 200,
                headers: vec![("x-hook-secret".into(), SECRET.into())],
                body: vec![],
                state: Some(vec![(KEPT.into(), SECRET.into())]),
            }
        );
        assert!(matches!(
            offer(&"a".repeat(MIN_SECRET_LEN), &Config::default()),
            Verdict::Respond { .. }
        ));
        assert!(matches!(
            offer(&"a".repeat(MAX_SECRET_LEN), &Config::default()),
            Verdict::Respond { .. }
        ));
        let too_short = "a".repeat(MIN_SECRET_LEN - 1);
        let too_long = "a".repeat(MAX_SECRET_LEN + 1);
        for bad in [
            "",
            "with space in it!!",
            "{\"events\":[]}xxxx",
            &too_short,
            &too_long,
        ] {
            assert_eq!(
                offer(bad, &Config::default()),
                Verdict::reject("malformed X-Hook-Secret"),
                "{bad:?}"
            );
        }
        // A second handshake, even with the same value, replaces nothing.
        for value in [SECRET, "attackerattackerattacker"] {
            assert!(!matches!(offer(value, &kept()), Verdict::Respond { .. }));
        }
    }

    #[test]
    fn events_are_checked_with_the_kept_secret() {
        let body =
            r#"{"events":[{"action":"changed","resource":{"gid":"1","resource_type":"task"}}]}"#;
        assert_eq!(
            Asana::verify(&signed(body, SECRET), &kept()),
            Verdict::accept().with_event_type("task.changed")
        );
        assert_eq!(
            Asana::verify(&signed(r#"{"events":[]}"#, SECRET), &kept()),
            Verdict::accept()
        );
        assert_eq!(
            Asana::verify(&signed(body, "other"), &kept()),
            Verdict::reject("invalid signature")
        );
        // Without a kept secret, nothing verifies (not even a signature with an empty key).
        assert!(!Asana::verify(&signed(body, ""), &Config::default()).is_accept());
        assert!(!Asana::verify(&signed(body, SECRET), &Config::default()).is_accept());
        // A configured secret is no substitute for the kept one.
        assert!(
            !Asana::verify(
                &signed(body, "configured"),
                &Config::with_secret("configured")
            )
            .is_accept()
        );
    }
}
