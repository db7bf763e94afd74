//! Declares a secret config field (`api_token`) and a plain one (`account`): accepts a
//! request whose `x-token` header is the token, typed with the account.

use inlet_sdk::crypto::constant_time_eq;
use inlet_sdk::{Config, ConfigField, Plugin, PluginInfo, Request, Verdict};

pub struct ConfigFields;

impl Plugin for ConfigFields {
    fn describe() -> PluginInfo {
        PluginInfo::new("config", "0.0.0", "checks a token from its config")
            .field(ConfigField {
                name: "api_token".into(),
                description: "the token senders present in x-token".into(),
                required: true,
                secret: true,
            })
            .field(ConfigField {
                name: "account".into(),
                description: "the event type".into(),
                required: true,
                secret: false,
            })
    }

    fn verify(request: &Request, config: &Config) -> Verdict {
        match (request.header("x-token"), config.get("api_token")) {
            (Some(given), Some(token)) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {
                Verdict::accept().with_event_type(config.get("account"))
            }
            _ => Verdict::reject("x-token does not match"),
        }
    }
}

inlet_sdk::export_plugin!(ConfigFields);
