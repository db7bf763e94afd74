//! The host adapter for plugins built against `inlet:plugin@0.1.0`: the first interface,
//! kept so that those plugins load and run unchanged. Its requests have no URL, its
//! configuration is one list (each active secret as a `secret` entry, then the fields), and
//! it keeps no state.

use wasmtime::Store;

use crate::runtime::CallState;
use crate::{Call, PluginFailure, Verdict};

wasmtime::component::bindgen!({
    path: "../../wit/v0.1.0",
    world: "provider",
});

use inlet::plugin::types::{self, Verdict as WitVerdict};
use inlet::plugin::{crypto, log};

crate::adapter::loading!(|info| Vec::new());

pub(crate) fn verify(
    store: &mut Store<CallState>,
    pre: &ProviderPre<CallState>,
    call: &Call,
) -> wasmtime::Result<Result<Verdict, PluginFailure>> {
    let request = types::Request {
        method: call.request.method.clone(),
        path: call.request.path.clone(),
        query: call.request.query.clone(),
        headers: call.request.headers.clone(),
        body: call.request.body.clone(),
        received_at: call.request.received_at,
    };
    let config: Vec<(String, String)> = call
        .config
        .secrets
        .iter()
        .map(|s| ("secret".to_string(), s.clone()))
        .chain(call.config.fields.iter().cloned())
        .collect();
    let verdict = pre
        .instantiate(&mut *store)?
        .inlet_plugin_handler()
        .call_verify(store, &request, &config)?;
    Ok(match verdict {
        WitVerdict::Accept(a) => crate::accepted(a.event_type, a.idempotency_key),
        WitVerdict::Reject(reason) => Ok(crate::rejected(reason)),
        WitVerdict::Respond(r) => crate::responded(r.status, &r.headers, r.body, None),
    })
}

crate::adapter::shared_imports!();

impl crypto::Host for CallState {
    crate::adapter::crypto_functions!();
}
