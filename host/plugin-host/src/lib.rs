//! Provider plugins: sandboxed WebAssembly components implementing `inlet:plugin/handler`
//! (see `wit/`). Built-in plugins ship inside the binary; more load from a plugins directory.
//!
//! Each plugin is compiled once (the machine code is cached in the data directory) and held
//! as an `InstancePre`; every call gets a fresh `Store` with a deadline, a memory limit
//! and bounded output, and runs on a blocking thread so a slow plugin delays only its own
//! request.

mod runtime;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio::sync::Semaphore;

use inlet_metrics::Metrics;
use runtime::{CallState, Deadline, Runtime};

wasmtime::component::bindgen!({
    path: "../../wit/v0.1.0",
    world: "provider",
});

pub use self::inlet::plugin::types::Request;
use self::inlet::plugin::types::Verdict as WitVerdict;

/// The WIT package versions this host can run.
pub const SUPPORTED_WIT_VERSIONS: &[&str] = &["0.1.0"];
const HANDLER_EXPORT: &str = "inlet:plugin/handler@";

/// The plugins that ship inside the binary, compiled by `build.rs`.
const BUILT_IN: &[(&str, &[u8])] = &[
    (
        "github",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/github.wasm")),
    ),
    (
        "shopify",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/shopify.wasm")),
    ),
    (
        "twitter",
        include_bytes!(concat!(env!("OUT_DIR"), "/plugins/twitter.wasm")),
    ),
];

/// Plugin calls running at once per core; others wait their turn before their deadline
/// starts. More would only share the cores, stretching every call's wall-clock time towards
/// its deadline. Also sizes the instance pool.
const CALLS_PER_CORE: u32 = 2;

/// Longest wait for a call slot; past it the request fails with `plugin_busy` (503).
pub const SLOT_WAIT: Duration = Duration::from_secs(1);

/// Bounds on what a plugin may return.
const MAX_RESPONSE_BODY: usize = 64 * 1024;
const MAX_RESPONSE_HEADERS: usize = 32;
/// Longest reject reason kept for the log.
const MAX_REASON_LEN: usize = 1024;

#[derive(Debug, Clone)]
pub struct PluginLimits {
    pub deadline: Duration,
    pub memory_bytes: usize,
}

/// One loaded plugin, as `GET /api/v1/plugins` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginSummary {
    pub name: String,
    pub version: String,
    pub description: String,
    pub config: Vec<ConfigFieldView>,
    /// `built-in`, or `file` for one loaded from `--plugins-dir`.
    pub origin: &'static str,
    /// The file it was loaded from: for the admin only, who chose it (a path tells a tenant
    /// about the server's layout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub wit_version: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigFieldView {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub secret: bool,
}

struct Loaded {
    summary: PluginSummary,
    pre: ProviderPre<CallState>,
    /// This plugin's share of the call slots: at most half, so one slow or hostile plugin
    /// cannot hold every slot while other plugins' sources wait.
    turns: Semaphore,
}

/// What a plugin decided on a request, checked against the output bounds.
#[derive(Debug)]
pub enum Verdict {
    /// Store the request as an event, with the event type and idempotency key the plugin
    /// found (else the source's configured locations decide).
    Accept {
        event_type: Option<String>,
        idempotency_key: Option<String>,
    },
    /// Refuse it (401); the reason is for the log.
    Reject(String),
    /// Answer it with this response and store nothing (handshakes).
    Respond(http::Response<Vec<u8>>),
}

/// Why a call produced no verdict. Each fails only its own request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginFailure {
    /// No plugin of the source's `provider` name is loaded.
    NotLoaded,
    /// No call slot came free within [`SLOT_WAIT`]: the plugin is saturated.
    Busy,
    Timeout,
    MemoryLimit,
    Trap,
    InvalidOutput,
}

impl PluginFailure {
    pub fn code(self) -> &'static str {
        match self {
            Self::NotLoaded => "plugin_unavailable",
            Self::Busy => "plugin_busy",
            Self::Timeout => "plugin_timeout",
            Self::MemoryLimit => "plugin_memory_limit",
            Self::Trap => "plugin_trap",
            Self::InvalidOutput => "plugin_invalid_output",
        }
    }
}

pub struct PluginHost {
    runtime: Runtime,
    plugins: BTreeMap<String, Arc<Loaded>>,
    calls: Semaphore,
    max_calls: usize,
    metrics: Arc<Metrics>,
}

impl PluginHost {
    /// Loads the built-in plugins, then every `.wasm` in `dir`. A plugin that cannot be
    /// loaded (not a component, unsupported WIT version, duplicate name) is refused with a
    /// logged reason; the others still load.
    ///
    /// Compiled machine code is cached in `cache_dir`, authenticated with `cache_mac_key`.
    pub fn load(
        dir: Option<&Path>,
        cache_dir: &Path,
        cache_mac_key: [u8; 32],
        limits: PluginLimits,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let max_calls = CALLS_PER_CORE * cores;
        let runtime = Runtime::new(limits, max_calls, cache_dir, cache_mac_key)?;
        let mut host = Self {
            runtime,
            plugins: BTreeMap::new(),
            calls: Semaphore::new(max_calls as usize),
            max_calls: max_calls as usize,
            metrics,
        };
        for (name, bytes) in BUILT_IN {
            host.add(bytes, None)
                .with_context(|| format!("the built-in {name} plugin failed to load"))?;
        }
        if let Some(dir) = dir {
            for path in wasm_files(dir)? {
                let shown = path.display().to_string();
                let loaded = std::fs::read(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|bytes| host.add(&bytes, Some(shown.clone())));
                match loaded {
                    Ok(name) => tracing::info!(plugin = %name, path = %shown, "plugin loaded"),
                    Err(e) => tracing::error!(path = %shown, "plugin refused: {e:#}"),
                }
            }
        }
        Ok(host)
    }

    /// Adds a built-in plugin (`path` is `None`) or one loaded from a file.
    fn add(&mut self, bytes: &[u8], path: Option<String>) -> anyhow::Result<String> {
        let component = self.runtime.compile(bytes)?;
        let wit_version = handler_version(&self.runtime, &component)?;
        let pre = ProviderPre::new(self.runtime.instantiate_pre(&component)?)
            .map_err(|e| anyhow::anyhow!("it does not match the inlet:plugin world: {e}"))?;
        let info = self
            .runtime
            .call(&pre, Deadline::Load, |store, plugin| {
                plugin.inlet_plugin_handler().call_describe(store)
            })
            .map_err(|f| anyhow::anyhow!("its describe call failed: {}", f.code()))?;
        let name = info.name.clone();
        anyhow::ensure!(
            !name.is_empty()
                && name.len() <= 64
                && name.bytes().all(|b| b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || b == b'_'),
            "its name {name:?} must be 1-64 characters of a-z, 0-9, '-' and '_'"
        );
        anyhow::ensure!(
            !self.plugins.contains_key(&name),
            "a plugin named {name:?} is already loaded"
        );
        let summary = PluginSummary {
            name: name.clone(),
            version: info.version,
            description: info.description,
            config: info
                .config
                .into_iter()
                .map(|f| ConfigFieldView {
                    name: f.name,
                    description: f.description,
                    required: f.required,
                    secret: f.secret,
                })
                .collect(),
            origin: if path.is_some() { "file" } else { "built-in" },
            path,
            wit_version,
        };
        self.plugins.insert(
            name.clone(),
            Arc::new(Loaded {
                summary,
                pre,
                turns: Semaphore::new((self.max_calls / 2).max(1)),
            }),
        );
        Ok(name)
    }

    pub fn get(&self, name: &str) -> Option<&PluginSummary> {
        self.plugins.get(name).map(|p| &p.summary)
    }

    pub fn list(&self) -> Vec<PluginSummary> {
        self.plugins.values().map(|p| p.summary.clone()).collect()
    }

    /// Runs a plugin's `verify` on a blocking thread.
    pub async fn verify(
        &self,
        name: &str,
        request: Request,
        config: Vec<(String, String)>,
    ) -> Result<Verdict, PluginFailure> {
        let plugin = self.plugins.get(name).ok_or(PluginFailure::NotLoaded)?;
        // The semaphores are never closed.
        let _own_turn = plugin
            .turns
            .acquire()
            .await
            .map_err(|_| PluginFailure::Trap)?;
        let _turn = self
            .calls
            .acquire()
            .await
            .map_err(|_| PluginFailure::Trap)?;
        let (runtime, callee) = (self.runtime.clone(), plugin.clone());
        let started = Instant::now();
        let outcome = tokio::task::spawn_blocking(move || {
            runtime
                .call(&callee.pre, Deadline::Call, |store, p| {
                    p.inlet_plugin_handler()
                        .call_verify(store, &request, &config)
                })
                .and_then(checked)
        })
        .await
        .unwrap_or(Err(PluginFailure::Trap));
        let label = match &outcome {
            Ok(Verdict::Accept { .. }) => "accept",
            Ok(Verdict::Reject(_)) => "reject",
            Ok(Verdict::Respond(_)) => "respond",
            Err(f) => f.code(),
        };
        self.metrics
            .plugin_call(name, label, started.elapsed().as_secs_f64());
        outcome
    }
}

/// Enforces the bounds on a verdict, and makes a `respond` a valid HTTP response: the one
/// check of what a plugin returns. A reject reason is only shortened.
fn checked(verdict: WitVerdict) -> Result<Verdict, PluginFailure> {
    // The bound every path puts on these fields; past it, the plugin's output is invalid.
    let fits = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .is_none_or(|v| inlet_model::check_event_field(field, v).is_ok())
    };
    match verdict {
        WitVerdict::Accept(a)
            if fits("event_type", &a.event_type) && fits("idempotency_key", &a.idempotency_key) =>
        {
            Ok(Verdict::Accept {
                event_type: a.event_type,
                idempotency_key: a.idempotency_key,
            })
        }
        WitVerdict::Accept(_) => Err(PluginFailure::InvalidOutput),
        WitVerdict::Reject(mut reason) => {
            truncate(&mut reason, MAX_REASON_LEN);
            Ok(Verdict::Reject(reason))
        }
        WitVerdict::Respond(r) => {
            checked_response(r.status, &r.headers, r.body).map(Verdict::Respond)
        }
    }
}

/// Headers that frame the message or concern only one connection: the server sets them,
/// never a plugin. A plugin's `content-length: 0` before a body would otherwise make the
/// peer read the rest as the next response on the connection.
const CONNECTION_HEADERS: [&str; 8] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "keep-alive",
    "te",
    "trailer",
    "proxy-connection",
];

/// A plugin's `respond` as an HTTP response: within the bounds, a final status (200–599:
/// no informational or protocol-switching answer), valid headers, and framing and
/// hop-by-hop headers dropped.
pub fn checked_response(
    status: u16,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<http::Response<Vec<u8>>, PluginFailure> {
    if body.len() > MAX_RESPONSE_BODY
        || headers.len() > MAX_RESPONSE_HEADERS
        || !(200..=599).contains(&status)
    {
        return Err(PluginFailure::InvalidOutput);
    }
    let mut answer = http::Response::new(body);
    *answer.status_mut() =
        http::StatusCode::from_u16(status).map_err(|_| PluginFailure::InvalidOutput)?;
    for (name, value) in headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| PluginFailure::InvalidOutput)?;
        let value = http::HeaderValue::from_str(value).map_err(|_| PluginFailure::InvalidOutput)?;
        if !CONNECTION_HEADERS.contains(&name.as_str()) {
            answer.headers_mut().append(name, value);
        }
    }
    Ok(answer)
}

/// Shortens text to at most `max` bytes, at a character boundary.
pub(crate) fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// The WIT version of the `handler` the component exports, if this host supports it.
fn handler_version(
    runtime: &Runtime,
    component: &wasmtime::component::Component,
) -> anyhow::Result<String> {
    let exported = runtime.export_names(component);
    let version = exported
        .iter()
        .find_map(|name| name.strip_prefix(HANDLER_EXPORT))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "it is not an Inlet plugin: it does not export {HANDLER_EXPORT}<version> \
                 (exports: {exported:?})"
            )
        })?;
    anyhow::ensure!(
        SUPPORTED_WIT_VERSIONS.contains(&version),
        "it is built for inlet:plugin@{version}, and this Inlet supports inlet:plugin@{}; \
         rebuild it with a matching SDK",
        SUPPORTED_WIT_VERSIONS.join(", ")
    );
    Ok(version.to_string())
}

fn wasm_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the plugins directory {}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn framing_and_hop_by_hop_headers_are_dropped_from_a_plugin_response() {
        let given = headers(&[
            ("Content-Length", "0"),
            ("transfer-encoding", "chunked"),
            ("Connection", "close"),
            ("upgrade", "websocket"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x-sum"),
            ("content-type", "application/json"),
            ("x-crc", "1"),
        ]);
        let answer = checked_response(200, &given, b"{}".to_vec()).unwrap();
        let names: Vec<_> = answer.headers().keys().map(|n| n.as_str()).collect();
        assert_eq!(names, ["content-type", "x-crc"]);
        assert_eq!(answer.body(), b"{}");
    }

    #[test]
    fn a_plugin_response_needs_a_final_status_and_valid_headers() {
        for status in [100, 101, 199, 600, 999, 0] {
            assert_eq!(
                checked_response(status, &[], Vec::new()).unwrap_err(),
                PluginFailure::InvalidOutput,
                "{status}"
            );
        }
        for status in [200, 204, 302, 400, 599] {
            assert!(
                checked_response(status, &[], Vec::new()).is_ok(),
                "{status}"
            );
        }
        let bad = headers(&[("bad header", "v")]);
        assert!(checked_response(200, &bad, Vec::new()).is_err());
        let bad = headers(&[("x-a", "line\nbreak")]);
        assert!(checked_response(200, &bad, Vec::new()).is_err());
        let big = vec![b'x'; MAX_RESPONSE_BODY + 1];
        assert!(checked_response(200, &[], big).is_err());
    }

    #[test]
    fn cached_machine_code_is_loaded_only_with_this_inlets_tag() {
        let cache = tempfile::tempdir().unwrap();
        let limits = PluginLimits {
            deadline: std::time::Duration::from_millis(200),
            memory_bytes: 32 << 20,
        };
        let load = |key: [u8; 32]| {
            let metrics = Arc::new(Metrics::default());
            PluginHost::load(None, cache.path(), key, limits.clone(), metrics)
        };
        let names = |host: &PluginHost| -> Vec<String> {
            host.list().into_iter().map(|p| p.name).collect()
        };
        assert_eq!(
            names(&load([1; 32]).unwrap()),
            ["github", "shopify", "twitter"]
        );
        let mut files: Vec<_> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 3);
        // Someone with write access to the cache puts one plugin's machine code under
        // another's name: it is not run (it would be Shopify's code answering for GitHub).
        let planted = std::fs::read(&files[1]).unwrap();
        std::fs::write(&files[0], &planted).unwrap();
        let host = load([1; 32]).unwrap();
        assert_eq!(names(&host), ["github", "shopify", "twitter"]);
        assert_ne!(std::fs::read(&files[0]).unwrap(), planted, "recompiled");
        // Code cached under another key (another data directory) is not trusted either.
        let before = std::fs::read(&files[2]).unwrap();
        load([2; 32]).unwrap();
        assert_ne!(std::fs::read(&files[2]).unwrap(), before);
    }
}
