//! Provider plugins: sandboxed WebAssembly components implementing `inlet:plugin/handler`
//! (see `wit/`). Built-in plugins ship inside the binary; more load from a plugins directory.
//!
//! Built-in plugins are compiled to machine code when Inlet is built; a plugin from a file is
//! compiled once (the machine code is cached in the data directory). Each is held as an
//! `InstancePre`; every call gets a fresh `Store` with a deadline, a memory limit and bounded
//! output, and runs on a blocking thread so a slow plugin delays only its own request.
//!
//! Each supported WIT version has its adapter (`v0_1`, `v0_2`), which turns the host's
//! [`Call`] into that version's types and its verdict into a [`Verdict`], checked once here.

mod adapter;
mod runtime;
mod v0_1;
mod v0_2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use tokio::sync::Semaphore;

use inlet_metrics::Metrics;
pub use inlet_sdk::{Config as SourceConfig, Request};
use runtime::{CallState, Deadline, Runtime};

/// The WIT package versions this host can run.
pub const SUPPORTED_WIT_VERSIONS: &[&str] = &["0.1.0", "0.2.0"];
const HANDLER_EXPORT: &str = "inlet:plugin/handler@";

/// The plugins that ship inside the binary (every crate in `plugins/`), as machine code
/// compiled by `build.rs`.
const BUILT_IN: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/built_in.rs"));

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
/// Bounds on the state a plugin keeps for a source.
const MAX_STATE_ENTRIES: usize = 8;
const MAX_STATE_KEY_LEN: usize = 64;
const MAX_STATE_BYTES: usize = 4096;

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
    /// Request headers the plugin declares credentials: masked in stored events.
    pub credential_headers: Vec<String>,
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

/// A plugin file as `inlet check-plugin` reports it.
#[derive(Debug, Serialize)]
pub struct PluginCheck {
    pub plugin: PluginSummary,
    /// What the component imports beyond `inlet:plugin` (WASI, as Rust's `std` declares
    /// it): not provided, so a call to one traps and fails the request.
    pub trapped_imports: Vec<String>,
}

/// What a plugin's `describe` says, in any WIT version.
struct PluginInfo {
    name: String,
    version: String,
    description: String,
    config: Vec<ConfigFieldView>,
    credential_headers: Vec<String>,
}

/// One request for a plugin: the request and what the plugin knows of its source.
pub struct Call {
    pub request: Request,
    pub config: SourceConfig,
}

/// A loaded plugin, by the WIT version it was built against.
enum Handler {
    V0_1(v0_1::ProviderPre<CallState>),
    V0_2(v0_2::ProviderPre<CallState>),
}

struct Loaded {
    summary: PluginSummary,
    handler: Handler,
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
    /// Answer it with this response and store nothing (handshakes); replace the source's
    /// plugin state with `state` when present.
    Respond {
        response: http::Response<Vec<u8>>,
        state: Option<Vec<(String, String)>>,
    },
}

impl Verdict {
    /// The verdict as the SDK states it: what a conformance case is checked against.
    pub fn into_sdk(self) -> inlet_sdk::Verdict {
        match self {
            Verdict::Accept {
                event_type,
                idempotency_key,
            } => inlet_sdk::Verdict::Accept {
                event_type,
                idempotency_key,
            },
            Verdict::Reject(reason) => inlet_sdk::Verdict::Reject(reason),
            Verdict::Respond { response, state } => inlet_sdk::Verdict::Respond {
                status: response.status().as_u16(),
                headers: response
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
                        (n.to_string(), value)
                    })
                    .collect(),
                body: response.into_body(),
                state,
            },
        }
    }
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
        let mut host = Self::without_plugins(cache_dir, cache_mac_key, limits, metrics)?;
        for (name, code) in BUILT_IN {
            host.runtime
                .load_built_in(code)
                .and_then(|component| host.add(&component, None))
                .with_context(|| format!("the built-in {name} plugin failed to load"))?;
        }
        if let Some(dir) = dir {
            for path in wasm_files(dir)? {
                let shown = path.display().to_string();
                match host.load_file(&path) {
                    Ok(name) => tracing::info!(plugin = %name, path = %shown, "plugin loaded"),
                    Err(e) => tracing::error!(path = %shown, "plugin refused: {e:#}"),
                }
            }
        }
        Ok(host)
    }

    fn without_plugins(
        cache_dir: &Path,
        cache_mac_key: [u8; 32],
        limits: PluginLimits,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
        let max_calls = CALLS_PER_CORE * cores;
        Ok(Self {
            runtime: Runtime::new(limits, max_calls, cache_dir, cache_mac_key)?,
            plugins: BTreeMap::new(),
            calls: Semaphore::new(max_calls as usize),
            max_calls: max_calls as usize,
            metrics,
        })
    }

    /// Loads a plugin file as `load` would, alone (no built-ins, nothing kept): what
    /// `inlet check-plugin` reports before an operator installs it. Fails with the reason
    /// `load` would refuse it for.
    pub fn check_file(path: &Path, limits: PluginLimits) -> anyhow::Result<PluginCheck> {
        let cache = tempfile::tempdir()?;
        let mut host = Self::without_plugins(cache.path(), [0; 32], limits, Arc::default())?;
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let component = host.runtime.compile(&bytes)?;
        let trapped_imports = host
            .runtime
            .import_names(&component)
            .into_iter()
            .filter(|name| !name.starts_with("inlet:plugin/"))
            .collect();
        let name = host.add(&component, Some(path.display().to_string()))?;
        Ok(PluginCheck {
            plugin: host.plugins[&name].summary.clone(),
            trapped_imports,
        })
    }

    /// Compiles (or takes from the cache) and adds the plugin in a `.wasm` file.
    fn load_file(&mut self, path: &Path) -> anyhow::Result<String> {
        let bytes = std::fs::read(path)?;
        let component = self.runtime.compile(&bytes)?;
        self.add(&component, Some(path.display().to_string()))
    }

    /// Adds a built-in plugin (`path` is `None`) or one loaded from a file.
    fn add(
        &mut self,
        component: &wasmtime::component::Component,
        path: Option<String>,
    ) -> anyhow::Result<String> {
        let wit_version = handler_version(&self.runtime, component)?;
        let pre = self.runtime.instantiate_pre(component)?;
        let mismatch = |e| anyhow::anyhow!("it does not match the inlet:plugin world: {e}");
        let handler = match wit_version.as_str() {
            "0.1.0" => Handler::V0_1(v0_1::pre(pre).map_err(mismatch)?),
            _ => Handler::V0_2(v0_2::pre(pre).map_err(mismatch)?),
        };
        let info = self
            .runtime
            .call(Deadline::Load, |store| match &handler {
                Handler::V0_1(pre) => v0_1::describe(store, pre),
                Handler::V0_2(pre) => v0_2::describe(store, pre),
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
        anyhow::ensure!(
            info.credential_headers
                .iter()
                .all(|h| http::HeaderName::from_bytes(h.as_bytes()).is_ok_and(|n| n == h.as_str())),
            "its credential headers must be lower-case header names"
        );
        let summary = PluginSummary {
            name: name.clone(),
            version: info.version,
            description: info.description,
            config: info.config,
            origin: if path.is_some() { "file" } else { "built-in" },
            credential_headers: info.credential_headers,
            path,
            wit_version,
        };
        self.plugins.insert(
            name.clone(),
            Arc::new(Loaded {
                summary,
                handler,
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
    pub async fn verify(&self, name: &str, call: Call) -> Result<Verdict, PluginFailure> {
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
                .call(Deadline::Call, |store| match &callee.handler {
                    Handler::V0_1(pre) => v0_1::verify(store, pre, &call),
                    Handler::V0_2(pre) => v0_2::verify(store, pre, &call),
                })
                .and_then(|verdict| verdict)
        })
        .await
        .unwrap_or(Err(PluginFailure::Trap));
        let label = match &outcome {
            Ok(Verdict::Accept { .. }) => "accept",
            Ok(Verdict::Reject(_)) => "reject",
            Ok(Verdict::Respond { .. }) => "respond",
            Err(f) => f.code(),
        };
        self.metrics
            .plugin_call(name, label, started.elapsed().as_secs_f64());
        outcome
    }
}

// The one check of what a plugin returns, whatever its WIT version.

/// An accept, if its event type and idempotency key are within the bound every path puts on
/// them.
fn accepted(
    event_type: Option<String>,
    idempotency_key: Option<String>,
) -> Result<Verdict, PluginFailure> {
    let fits = |field: &str, value: &Option<String>| {
        value
            .as_deref()
            .is_none_or(|v| inlet_model::check_event_field(field, v).is_ok())
    };
    if fits("event_type", &event_type) && fits("idempotency_key", &idempotency_key) {
        Ok(Verdict::Accept {
            event_type,
            idempotency_key,
        })
    } else {
        Err(PluginFailure::InvalidOutput)
    }
}

/// A reject; its reason is only shortened.
fn rejected(mut reason: String) -> Verdict {
    truncate(&mut reason, MAX_REASON_LEN);
    Verdict::Reject(reason)
}

/// A respond, as a valid HTTP response with state within its bounds.
fn responded(
    status: u16,
    headers: &[(String, String)],
    body: Vec<u8>,
    state: Option<Vec<(String, String)>>,
) -> Result<Verdict, PluginFailure> {
    let state_fits = state.as_ref().is_none_or(|entries| {
        entries.len() <= MAX_STATE_ENTRIES
            && entries
                .iter()
                .all(|(k, _)| !k.is_empty() && k.len() <= MAX_STATE_KEY_LEN)
            && entries
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
                <= MAX_STATE_BYTES
    });
    if !state_fits {
        return Err(PluginFailure::InvalidOutput);
    }
    Ok(Verdict::Respond {
        response: checked_response(status, headers, body)?,
        state,
    })
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

    fn limits() -> PluginLimits {
        PluginLimits {
            deadline: std::time::Duration::from_millis(500),
            memory_bytes: 32 << 20,
        }
    }

    fn empty_host(cache: &Path, key: [u8; 32]) -> PluginHost {
        PluginHost::without_plugins(cache, key, limits(), Arc::new(Metrics::default())).unwrap()
    }

    /// A built component of this build (`build.rs` leaves them in `OUT_DIR/plugins`).
    fn built(name: &str) -> PathBuf {
        Path::new(env!("OUT_DIR")).join(format!("plugins/{name}.wasm"))
    }

    #[test]
    fn every_built_in_loads_from_its_precompiled_code() {
        let cache = tempfile::tempdir().unwrap();
        let host =
            PluginHost::load(None, cache.path(), [1; 32], limits(), Default::default()).unwrap();
        let names: Vec<String> = host.list().into_iter().map(|p| p.name).collect();
        let built: Vec<&str> = BUILT_IN.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, built);
        assert!(names.len() >= 3 && names.contains(&"github".to_string()));
        assert!(host.list().iter().all(|p| p.wit_version == "0.2.0"));
        // Nothing was compiled, so nothing was cached.
        assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
    }

    #[test]
    fn cached_machine_code_is_loaded_only_with_this_inlets_tag() {
        let cache = tempfile::tempdir().unwrap();
        let (github, shopify) = (built("github"), built("shopify"));
        let mut host = empty_host(cache.path(), [1; 32]);
        host.load_file(&github).unwrap();
        host.load_file(&shopify).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2);
        // Someone with write access to the cache puts one plugin's machine code under
        // another's name: it is not run (it would be Shopify's code answering for GitHub).
        let planted = std::fs::read(&files[1]).unwrap();
        std::fs::write(&files[0], &planted).unwrap();
        let mut host = empty_host(cache.path(), [1; 32]);
        host.load_file(&github).unwrap();
        host.load_file(&shopify).unwrap();
        let names: Vec<String> = host.list().into_iter().map(|p| p.name).collect();
        assert_eq!(names, ["github", "shopify"]);
        assert!(std::fs::read(&files[0]).unwrap() != planted, "recompiled");
        // Code cached under another key (another data directory) is not trusted either.
        let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        let mut other = empty_host(cache.path(), [2; 32]);
        other.load_file(&github).unwrap();
        other.load_file(&shopify).unwrap();
        for (file, before) in files.iter().zip(before) {
            assert!(
                std::fs::read(file).unwrap() != before,
                "rewritten under the new key"
            );
        }
    }

    /// Runs a plugin's conformance cases through the real host.
    fn run_cases(
        host: &PluginHost,
        name: &str,
        cases: &str,
        sign: fn(&mut Request, &SourceConfig),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let cases = inlet_sdk::conformance::Cases::parse(cases);
        for case in &cases.cases {
            let (request, config) = case.prepare(sign, None, None);
            let verdict = runtime
                .block_on(host.verify(name, Call { request, config }))
                .unwrap_or_else(|f| panic!("{}: {}", case.name, f.code()));
            case.expect
                .check(&verdict.into_sdk())
                .unwrap_or_else(|why| panic!("{}: {why}", case.name));
        }
    }

    #[test]
    fn a_plugin_built_against_0_1_0_loads_and_passes_its_cases_unchanged() {
        // `tests/fixtures/github-0.1.0.wasm` is the GitHub plugin as built before 0.2.0
        // existed; it must keep working as it did.
        let cache = tempfile::tempdir().unwrap();
        let mut host = empty_host(cache.path(), [1; 32]);
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/github-0.1.0.wasm");
        assert_eq!(host.load_file(&fixture).unwrap(), "github");
        let summary = host.get("github").unwrap();
        assert_eq!(summary.wit_version, "0.1.0");
        assert!(summary.credential_headers.is_empty());
        use inlet_sdk::conformance::Signer;
        run_cases(
            &host,
            "github",
            include_str!("../../../plugins/github/cases.json"),
            inlet_plugin_github::GitHub::sign,
        );
    }
}
