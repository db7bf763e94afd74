//! Builds plugin crates of this workspace into WebAssembly components (`wasm32-wasip2`),
//! for build scripts that embed or test them, and compiles components to machine code ahead
//! of time with the one wasmtime configuration the host runs them under ([`engine_config`]).
//!
//! It runs a nested `cargo build` with its own target directory (so it never waits on the
//! outer build's lock) and without the outer build's wrappers and flags (clippy, coverage),
//! which are meant for the host target only.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` (crate names) in release mode and copies each component to
/// `out_dir/<file stem>.wasm`, where the stem is the crate name minus `strip_prefix`.
/// Returns the copied paths. Panics with the build's own error on failure: this is for
/// build scripts.
pub fn build_components(
    workspace_root: &Path,
    packages: &[impl AsRef<str>],
    strip_prefix: &str,
    out_dir: &Path,
) -> Vec<PathBuf> {
    let target_dir = out_dir.join("wasm-target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace_root)
        .args(["build", "--release", "--locked", "--target", TARGET])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Small components: they are embedded in the binary and compiled at every load.
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS");
    for package in packages {
        command.args(["-p", package.as_ref()]);
    }
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build plugins: {e}"));
    assert!(
        status.success(),
        "building plugins for {TARGET} failed; is the target installed? \
         (`rustup target add {TARGET}`, done by scripts/setup.sh)"
    );
    std::fs::create_dir_all(out_dir).expect("cannot create the plugins output directory");
    packages
        .iter()
        .map(|package| {
            let package = package.as_ref();
            let artifact = package.replace('-', "_");
            let built = target_dir
                .join(TARGET)
                .join("release")
                .join(format!("{artifact}.wasm"));
            let name = package.strip_prefix(strip_prefix).unwrap_or(package);
            let copied = out_dir.join(format!("{name}.wasm"));
            std::fs::copy(&built, &copied)
                .unwrap_or_else(|e| panic!("cannot copy {}: {e}", built.display()));
            copied
        })
        .collect()
}

/// How plugins are compiled: the settings that shape their machine code, shared by the build
/// script that precompiles the built-in plugins and the host that runs them (which adds its
/// allocator and limits). Machine code made under other settings does not load.
pub fn engine_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    config
}

/// Compiles each component in `components` to machine code for this machine under
/// [`engine_config`], written beside it as `<stem>.cwasm`. Returns the written paths.
/// Panics on failure: this is for build scripts.
pub fn precompile(components: &[PathBuf]) -> Vec<PathBuf> {
    let engine = wasmtime::Engine::new(&engine_config())
        .unwrap_or_else(|e| panic!("cannot set up wasmtime to precompile plugins: {e}"));
    components
        .iter()
        .map(|component| {
            let bytes = std::fs::read(component)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", component.display()));
            let code = engine
                .precompile_component(&bytes)
                .unwrap_or_else(|e| panic!("cannot compile {}: {e}", component.display()));
            let compiled = component.with_extension("cwasm");
            std::fs::write(&compiled, code)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", compiled.display()));
            compiled
        })
        .collect()
}

/// The plugin crates in `dir` (each subdirectory with a `Cargo.toml`), as package names
/// `<prefix><subdirectory>`, sorted.
pub fn packages_in(dir: &Path, prefix: &str) -> Vec<String> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut packages: Vec<String> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("Cargo.toml").is_file())
        .filter_map(|path| Some(format!("{prefix}{}", path.file_name()?.to_str()?)))
        .collect();
    packages.sort();
    packages
}

/// Tells cargo to rerun the build script when plugin sources or the WIT change.
pub fn rerun_if_changed(workspace_root: &Path, dirs: &[&str]) {
    for dir in dirs {
        println!(
            "cargo:rerun-if-changed={}",
            workspace_root.join(dir).display()
        );
    }
}
