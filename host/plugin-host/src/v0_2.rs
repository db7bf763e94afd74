//! The host adapter for plugins built against `inlet:plugin@0.2.0`, the current interface:
//! the public URL, every active secret, per-source state, ECDSA and RSA verification and
//! the encodings, and declared credential headers.

use wasmtime::Store;

use crate::runtime::CallState;
use crate::{Call, PluginFailure, Verdict};

wasmtime::component::bindgen!({
    path: "../../wit/v0.2.0",
    world: "provider",
});

use inlet::plugin::types::{self, Verdict as WitVerdict};
use inlet::plugin::{crypto, encoding, log};

crate::adapter::loading!(|info| info.credential_headers);

pub(crate) fn verify(
    store: &mut Store<CallState>,
    pre: &ProviderPre<CallState>,
    call: &Call,
) -> wasmtime::Result<Result<Verdict, PluginFailure>> {
    let r = &call.request;
    let request = types::Request {
        method: r.method.clone(),
        url: r.url.clone(),
        path: r.path.clone(),
        query: r.query.clone(),
        headers: r.headers.clone(),
        body: r.body.clone(),
        received_at: r.received_at,
    };
    let config = types::SourceConfig {
        secrets: call.config.secrets.clone(),
        fields: call.config.fields.clone(),
        state: call.config.state.clone(),
    };
    let verdict = pre
        .instantiate(&mut *store)?
        .inlet_plugin_handler()
        .call_verify(store, &request, &config)?;
    Ok(match verdict {
        WitVerdict::Accept(a) => crate::accepted(a.event_type, a.idempotency_key),
        WitVerdict::Reject(reason) => Ok(crate::rejected(reason)),
        WitVerdict::Respond(r) => crate::responded(r.status, &r.headers, r.body, r.state),
    })
}

crate::adapter::shared_imports!();

impl crypto::Host for CallState {
    crate::adapter::crypto_functions!();

    fn ecdsa_p256_sha256_verify(
        &mut self,
        key: Vec<u8>,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> bool {
        inlet_sdk::crypto::ecdsa_p256_sha256_verify(&key, &message, &signature)
    }

    fn rsa_pkcs1v15_verify(
        &mut self,
        algorithm: crypto::HashAlgorithm,
        key: Vec<u8>,
        message: Vec<u8>,
        signature: Vec<u8>,
    ) -> bool {
        inlet_sdk::crypto::rsa_pkcs1v15_verify(hash(algorithm), &key, &message, &signature)
    }
}

impl encoding::Host for CallState {
    fn encode(&mut self, alphabet: encoding::Alphabet, data: Vec<u8>) -> String {
        inlet_sdk::encoding::encode(to_sdk(alphabet), &data)
    }

    fn decode(&mut self, alphabet: encoding::Alphabet, text: String) -> Option<Vec<u8>> {
        inlet_sdk::encoding::decode(to_sdk(alphabet), &text)
    }
}

fn to_sdk(alphabet: encoding::Alphabet) -> inlet_sdk::Alphabet {
    match alphabet {
        encoding::Alphabet::Hex => inlet_sdk::Alphabet::Hex,
        encoding::Alphabet::Base64 => inlet_sdk::Alphabet::Base64,
        encoding::Alphabet::Base64url => inlet_sdk::Alphabet::Base64Url,
    }
}
