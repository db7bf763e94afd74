//! The wasmtime side: one engine (pooling allocator, epoch interruption), compilation with
//! an on-disk cache of machine code, and bounded calls, each in a fresh `Store`.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{
    Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap,
};

use super::{PluginFailure, PluginLimits};

/// How often the epoch advances; deadlines are whole ticks.
const TICK: Duration = Duration::from_millis(5);
/// A call made while loading (`describe`) may take a second: at start-up, on a busy
/// machine, the per-request deadline would refuse a plugin that is merely slow to start.
const LOAD_DEADLINE_TICKS: u64 = 1000 / TICK.as_millis() as u64;

/// Which deadline a call gets.
#[derive(Clone, Copy)]
pub(super) enum Deadline {
    /// The per-request deadline (`--plugin-deadline-ms`).
    Call,
    /// Loading a plugin.
    Load,
}

/// What one call may write to the log: at most this many bytes in all, in lines of at
/// most [`LOG_LINE_LEN`]. An internet client can make a plugin log on every request.
const LOG_BYTES_PER_CALL: usize = 2048;
const LOG_LINE_LEN: usize = 512;
/// What one component may hold in the pool, so that a component of many modules and
/// memories cannot take the slots every other plugin's calls need. A Rust plugin has one
/// memory; its canonical-ABI shims add a few small instances and tables.
const MEMORIES_PER_COMPONENT: u32 = 1;
const CORE_INSTANCES_PER_COMPONENT: u32 = 8;
const TABLES_PER_COMPONENT: u32 = 8;

#[derive(Clone)]
pub(super) struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    /// Used only while loading: each component's unknown (WASI) imports are defined as traps.
    linker: Mutex<Linker<CallState>>,
    limits: PluginLimits,
    deadline_ticks: u64,
    cache_dir: PathBuf,
    cache_mac_key: [u8; 32],
    stop_ticker: Arc<AtomicBool>,
}

/// A cached file is the HMAC-SHA256 of its name and machine code, then the code: loading
/// machine code runs it outside the sandbox, so only code this data directory's Inlet wrote
/// (whose key is in the store, not beside the cache) is loaded.
const CACHE_TAG_LEN: usize = 32;

fn cache_tag(key: &[u8; 32], name: &str, code: &[u8]) -> Vec<u8> {
    // The name has a fixed length (two hashes), so name and code cannot be re-split.
    let mut signed = Vec::with_capacity(name.len() + code.len());
    signed.extend_from_slice(name.as_bytes());
    signed.extend_from_slice(code);
    inlet_sdk::crypto::hmac(inlet_sdk::crypto::HashAlgorithm::Sha256, key, &signed)
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// The state of one call: its memory budget and its share of the log.
pub(crate) struct CallState {
    memory_limit: usize,
    memory_exceeded: bool,
    /// Bytes this call has logged.
    logged: usize,
}

impl ResourceLimiter for CallState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_exceeded = true;
            wasmtime::bail!("the plugin exceeded its memory limit");
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl CallState {
    /// A line in Inlet's log from the plugin, within the call's share.
    pub(crate) fn log(&mut self, level: tracing::Level, mut message: String) {
        let room = LOG_BYTES_PER_CALL.saturating_sub(self.logged);
        if room == 0 {
            return;
        }
        super::truncate(&mut message, LOG_LINE_LEN.min(room));
        self.logged += message.len().max(1);
        // Debug-formatted, so a plugin's newlines and control characters are escaped
        // and cannot forge log lines.
        match level {
            tracing::Level::ERROR => tracing::error!(target: "inlet::plugin", "{message:?}"),
            tracing::Level::WARN => tracing::warn!(target: "inlet::plugin", "{message:?}"),
            tracing::Level::INFO => tracing::info!(target: "inlet::plugin", "{message:?}"),
            _ => tracing::debug!(target: "inlet::plugin", "{message:?}"),
        }
    }
}

impl Runtime {
    pub(super) fn new(
        limits: PluginLimits,
        pool_size: u32,
        cache_dir: &Path,
        cache_mac_key: [u8; 32],
    ) -> anyhow::Result<Self> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(pool_size)
            .total_core_instances(pool_size * CORE_INSTANCES_PER_COMPONENT)
            .total_memories(pool_size * 2 * MEMORIES_PER_COMPONENT)
            .total_tables(pool_size * TABLES_PER_COMPONENT)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .max_memory_size(limits.memory_bytes)
            // Reset a reused slot's first pages with memset instead of madvise: no page
            // faults for the next instance (Rust plugins touch about a megabyte).
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10)
            // Where the kernel has PAGEMAP_SCAN (Linux 6.7+), only the pages a call dirtied
            // are reset, not all of the resident 2 MiB.
            .pagemap_scan(Enabled::Auto);
        let mut config = inlet_plugin_build::engine_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // Each memory slot reserves (never commits) 4 GiB of address space plus guard pages,
        // which lets wasmtime drop bounds checks: tens of GiB of virtual memory in all.
        let engine = Engine::new(&config).map_err(|e| {
            anyhow::anyhow!(
                "cannot set up the plugin sandboxes ({e}): their {} memory slots reserve more \
                 than 4 GiB of address space each (virtual, not resident); lift a `ulimit -v` \
                 limit",
                pool_size * 2 * MEMORIES_PER_COMPONENT,
            )
        })?;

        let mut linker = Linker::new(&engine);
        super::v0_1::add_to_linker(&mut linker)
            .and_then(|()| super::v0_2::add_to_linker(&mut linker))
            .map_err(|e| anyhow::anyhow!("{e}"))?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let (ticking, stop) = (engine.clone(), stop_ticker.clone());
        std::thread::Builder::new()
            .name("inlet-plugin-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    ticking.increment_epoch();
                }
            })?;

        std::fs::create_dir_all(cache_dir)
            .with_context(|| format!("cannot create {}", cache_dir.display()))?;
        let deadline_ticks = limits
            .deadline
            .as_millis()
            .div_ceil(TICK.as_millis())
            .max(1) as u64;
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker: Mutex::new(linker),
                limits,
                deadline_ticks,
                cache_dir: cache_dir.to_path_buf(),
                cache_mac_key,
                stop_ticker,
            }),
        })
    }

    /// Compiles a component, or loads its machine code from the cache when this engine
    /// compiled the same bytes before.
    pub(super) fn compile(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        let engine = &self.inner.engine;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let name = format!(
            "{}-{:016x}.cwasm",
            hex::encode(inlet_sdk::crypto::digest(
                inlet_sdk::crypto::HashAlgorithm::Sha256,
                bytes
            )),
            hasher.finish()
        );
        let cached = self.inner.cache_dir.join(&name);
        if let Ok(file) = std::fs::read(&cached) {
            match self.verified_code(&name, &file) {
                // SAFETY: the code was written by `precompile_component` of an engine with
                // the same compatibility hash (it is in the name), and its tag proves that
                // this Inlet wrote it.
                Some(code) => match unsafe { Component::deserialize(engine, code) } {
                    Ok(component) => return Ok(component),
                    Err(e) => {
                        tracing::warn!(path = %cached.display(), "recompiling a plugin: the cached code is unusable: {e}")
                    }
                },
                None => {
                    tracing::warn!(path = %cached.display(), "recompiling a plugin: the cached code fails its integrity check (not written by this Inlet)")
                }
            }
        }
        let code = engine
            .precompile_component(bytes)
            .map_err(|e| anyhow::anyhow!("it is not a valid WebAssembly component: {e}"))?;
        let mut file = cache_tag(&self.inner.cache_mac_key, &name, &code);
        file.extend_from_slice(&code);
        let partial = cached.with_extension("partial");
        std::fs::write(&partial, &file)
            .and_then(|()| std::fs::rename(&partial, &cached))
            .with_context(|| format!("cannot write the plugin cache {}", cached.display()))?;
        // SAFETY: as above; the code was produced by this engine just now.
        unsafe { Component::deserialize(engine, &code) }.map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// A built-in plugin, compiled to machine code by the build script.
    pub(super) fn load_built_in(&self, code: &[u8]) -> anyhow::Result<Component> {
        // SAFETY: the code is part of this binary, written by `inlet_plugin_build::precompile`
        // under the same engine configuration; a mismatch is refused by `deserialize`.
        unsafe { Component::deserialize(&self.inner.engine, code) }
            .map_err(|e| anyhow::anyhow!("its precompiled code does not load: {e}"))
    }

    /// The machine code of a cached file whose tag verifies.
    fn verified_code<'a>(&self, name: &str, file: &'a [u8]) -> Option<&'a [u8]> {
        let (tag, code) = file.split_at_checked(CACHE_TAG_LEN)?;
        let expected = cache_tag(&self.inner.cache_mac_key, name, code);
        inlet_sdk::crypto::constant_time_eq(tag, &expected).then_some(code)
    }

    pub(super) fn import_names(&self, component: &Component) -> Vec<String> {
        component
            .component_type()
            .imports(&self.inner.engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    pub(super) fn export_names(&self, component: &Component) -> Vec<String> {
        component
            .component_type()
            .exports(&self.inner.engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    pub(super) fn instantiate_pre(
        &self,
        component: &Component,
    ) -> anyhow::Result<InstancePre<CallState>> {
        let mut linker = self
            .inner
            .linker
            .lock()
            .expect("the linker lock is never poisoned");
        // No WASI: whatever the standard library imports traps if it is ever called.
        linker
            .define_unknown_imports_as_traps(component)
            .and_then(|()| linker.instantiate_pre(component))
            .map_err(|e| anyhow::anyhow!("it cannot be linked: {e}"))
    }

    /// Runs `f` (which instantiates the plugin and calls it) in a fresh store, within the
    /// memory limit and the call deadline (`Deadline::Call`), or the longer one of a call
    /// made while loading.
    pub(super) fn call<R>(
        &self,
        deadline: Deadline,
        f: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> Result<R, PluginFailure> {
        let mut store = Store::new(
            &self.inner.engine,
            CallState {
                memory_limit: self.inner.limits.memory_bytes,
                memory_exceeded: false,
                logged: 0,
            },
        );
        store.limiter(|state| state);
        store.set_epoch_deadline(match deadline {
            Deadline::Call => self.inner.deadline_ticks,
            Deadline::Load => self.inner.deadline_ticks.max(LOAD_DEADLINE_TICKS),
        });
        store.epoch_deadline_trap();
        let result = f(&mut store);
        result.map_err(|e| {
            let failure = if store.data().memory_exceeded {
                PluginFailure::MemoryLimit
            } else if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
                PluginFailure::Timeout
            } else {
                PluginFailure::Trap
            };
            // Bounded: the error of a hostile plugin's call is whatever it made it.
            let mut error = format!("{e}");
            super::truncate(&mut error, LOG_LINE_LEN);
            tracing::warn!(failure = failure.code(), "plugin call failed: {error:?}");
            failure
        })
    }
}
