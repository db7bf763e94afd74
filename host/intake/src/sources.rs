//! HTTP sources as ingest runs them: each one's check compiled once (its native verifier, or
//! its plugin's configuration) and its locations parsed once, cached by mask id until the
//! store says a source changed.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use inlet_model::Source;
use inlet_payload::Location;
use inlet_plugin_host::SourceConfig;
use inlet_store::{Store, StoreError};
use inlet_verify::Verifier;

/// A source ready for its requests.
pub(crate) struct LiveSource {
    pub source: Source,
    pub check: Check,
    pub event_type_location: Option<Location>,
    pub idempotency_keys: Vec<Location>,
}

pub(crate) enum Check {
    /// A native verifier; `None` when the stored configuration does not compile, which
    /// rejects every request (fail closed).
    Native(Option<Verifier>),
    /// The source's provider plugin, with its configuration: a `secret` entry per active
    /// secret (Convoy's `verifier.hmac.secret`, then `hmac.secrets`) and the
    /// `provider_config` entries.
    /// Everything of the plugin's configuration but its state, which is read per request.
    Plugin { config: SourceConfig },
}

impl LiveSource {
    fn new(source: Source) -> Self {
        let check = if source.provider.is_empty() {
            Check::Native(Verifier::compile(&source.verifier).ok())
        } else {
            // Every active secret, `hmac.secret` first.
            let config = SourceConfig {
                secrets: source
                    .verifier
                    .hmac_secrets()
                    .map(|s| s.expose().to_string())
                    .collect(),
                fields: source
                    .provider_config
                    .iter()
                    .map(|(name, value)| (name.clone(), value.expose().to_string()))
                    .collect(),
                state: Vec::new(),
            };
            Check::Plugin { config }
        };
        // The API validated them; a location stored by an older version that no longer
        // parses reads as absent.
        let parse = |text: &String| Location::parse(text).ok();
        Self {
            event_type_location: source.event_type_location.as_ref().and_then(parse),
            idempotency_keys: source.idempotency_keys.iter().filter_map(parse).collect(),
            check,
            source,
        }
    }
}

#[derive(Default)]
pub(crate) struct LiveSources {
    cache: RwLock<Cache>,
}

#[derive(Default)]
struct Cache {
    /// The store's sources version when the entries were read.
    version: u64,
    by_mask: HashMap<String, Arc<LiveSource>>,
}

impl LiveSources {
    /// The source with this mask id, if there is one. Unknown mask ids are not cached, so
    /// guessing cannot grow the cache.
    pub fn get(&self, store: &Store, mask_id: &str) -> Result<Option<Arc<LiveSource>>, StoreError> {
        // Read before the store: a source changed after this read raises the version, so
        // what is cached below cannot pass for current.
        let version = store.sources_version();
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if cache.version == version
                && let Some(live) = cache.by_mask.get(mask_id)
            {
                return Ok(Some(live.clone()));
            }
        }
        let Some(source) = store.source_by_mask(mask_id)? else {
            return Ok(None);
        };
        let live = Arc::new(LiveSource::new(source));
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.version != version {
            cache.by_mask.clear();
            cache.version = version;
        }
        cache.by_mask.insert(mask_id.to_string(), live.clone());
        Ok(Some(live))
    }
}
