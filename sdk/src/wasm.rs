//! Conversions between the generated bindings and the SDK's plain types, used by
//! [`export_plugin!`](crate::export_plugin).

use crate::bindings::exports::inlet::plugin::handler;
use crate::bindings::inlet::plugin::types;
use crate::{Config, Plugin, Request, Verdict};

pub fn describe<P: Plugin>() -> handler::PluginInfo {
    let info = P::describe();
    handler::PluginInfo {
        name: info.name,
        version: info.version,
        description: info.description,
        config: info
            .config
            .into_iter()
            .map(|f| types::ConfigField {
                name: f.name,
                description: f.description,
                required: f.required,
                secret: f.secret,
            })
            .collect(),
        credential_headers: info.credential_headers,
    }
}

pub fn verify<P: Plugin>(
    request: handler::Request,
    config: handler::SourceConfig,
) -> handler::Verdict {
    let request = Request {
        method: request.method,
        url: request.url,
        path: request.path,
        query: request.query,
        headers: request.headers,
        body: request.body,
        received_at: request.received_at,
    };
    let config = Config {
        secrets: config.secrets,
        fields: config.fields,
        state: config.state,
    };
    match P::verify(&request, &config) {
        Verdict::Accept {
            event_type,
            idempotency_key,
        } => handler::Verdict::Accept(types::Accept {
            event_type,
            idempotency_key,
        }),
        Verdict::Reject(reason) => handler::Verdict::Reject(reason),
        Verdict::Respond {
            status,
            headers,
            body,
            state,
        } => handler::Verdict::Respond(types::Response {
            status,
            headers,
            body,
            state,
        }),
    }
}
