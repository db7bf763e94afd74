//! GitLab webhooks (project, group and system hooks).
//!
//! - Header checked: `X-Gitlab-Token`, which carries the webhook's secret token itself (GitLab
//!   signs nothing). It is compared in constant time with every active secret (rotation) and
//!   declared a credential header, so Inlet masks it in the events it stores.
//! - Bytes signed: none. The token authenticates the sender, not the body; TLS is what keeps
//!   the body intact.
//! - Replay window: none (GitLab sends no timestamp).
//! - Handshake: none; every verdict is an accept or a reject, and nothing is ever signed.
//! - Event type: `X-Gitlab-Event` (`Push Hook`, `Merge Request Hook`, ...).
//! - Idempotency key: `Idempotency-Key` (GitLab 17.4+: the same across retries of one
//!   delivery, which is what a duplicate is), else `X-Gitlab-Event-UUID` (older GitLab).
//!   `X-Gitlab-Webhook-UUID` is not used: it names the hook, not the event.

use inlet_sdk::crypto::constant_time_eq;
use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict};

/// The host refuses event types and keys longer than this.
const MAX_LEN: usize = 1024;

pub struct GitLab;

impl Plugin for GitLab {
    fn describe() -> PluginInfo {
        PluginInfo::new(
            "gitlab",
            env!("CARGO_PKG_VERSION"),
            "GitLab webhooks, authenticated by the X-Gitlab-Token secret token",
        )
        .secret()
        .credential_header("x-gitlab-token")
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        if config.secret().is_none() {
            return Verdict::misconfigured("secret");
        }
        let Some(token) = request.header("x-gitlab-token") else {
            return Verdict::reject("missing token");
        };
        let genuine = config
            .secrets()
            .any(|secret| constant_time_eq(token.as_bytes(), secret.as_bytes()));
        if !genuine {
            return Verdict::reject("invalid token");
        }
        let key = request
            .header("idempotency-key")
            .or_else(|| request.header("x-gitlab-event-uuid"));
        Verdict::accept()
            .with_event_type(bounded(request.header("x-gitlab-event")))
            .with_idempotency_key(bounded(key))
    }
}

fn bounded(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty() && v.len() <= MAX_LEN)
}

/// GitLab's side, for the conformance cases: it sends the secret token as configured.
#[cfg(not(target_arch = "wasm32"))]
impl inlet_sdk::conformance::Signer for GitLab {
    fn sign(request: &mut Request, config: &Config) {
        let token = config.secret().unwrap_or_default().to_string();
        request.headers.push(("x-gitlab-token".into(), token));
    }
}

inlet_sdk::export_plugin!(GitLab);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        inlet_sdk::conformance::check::<GitLab>(include_str!("../cases.json"));
    }

    #[test]
    fn describes_the_token_as_a_credential() {
        let info = GitLab::describe();
        assert_eq!(info.name, "gitlab");
        assert_eq!(info.credential_headers, ["x-gitlab-token"]);
        assert!(
            info.config
                .iter()
                .any(|f| f.name == "secret" && f.required && f.secret)
        );
    }

    #[test]
    fn fails_closed_without_a_secret() {
        let request = Request::post("{}").with_header("X-Gitlab-Token", "");
        assert_eq!(
            GitLab::verify(&request, &Config::default()),
            Verdict::misconfigured("secret")
        );
        assert_eq!(
            GitLab::verify(&request, &Config::with_secret("")),
            Verdict::misconfigured("secret")
        );
    }

    #[test]
    fn near_tokens_are_rejected() {
        let config = Config::with_secret("tok3n");
        for token in ["", "tok3", "tok3n ", "TOK3N", "tok3nn"] {
            let request = Request::post("{}").with_header("X-Gitlab-Token", token);
            assert_eq!(
                GitLab::verify(&request, &config),
                Verdict::reject("invalid token"),
                "{token:?}"
            );
        }
    }

    #[test]
    fn overlong_ids_are_dropped() {
        let long = "a".repeat(MAX_LEN + 1);
        let request = Request::post("{}")
            .with_header("X-Gitlab-Token", "t")
            .with_header("X-Gitlab-Event", &long)
            .with_header("X-Gitlab-Event-UUID", &long);
        assert_eq!(
            GitLab::verify(&request, &Config::with_secret("t")),
            Verdict::accept()
        );
    }
}
