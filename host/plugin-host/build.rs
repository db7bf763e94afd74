//! Compiles the built-in provider plugins to WebAssembly components, which `src/lib.rs`
//! embeds in the binary.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().and_then(Path::parent).unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("plugins");
    inlet_plugin_build::rerun_if_changed(root, &["plugins", "sdk/src", "sdk/Cargo.toml", "wit"]);
    inlet_plugin_build::build_components(
        root,
        &[
            "inlet-plugin-github",
            "inlet-plugin-shopify",
            "inlet-plugin-twitter",
        ],
        "inlet-plugin-",
        Path::new(&out),
    );
}
