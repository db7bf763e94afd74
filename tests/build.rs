//! Builds the hostile test plugins (`tests/plugins/*`) into WebAssembly components.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("plugins");
    inlet_plugin_build::rerun_if_changed(root, &["tests/plugins", "sdk/src", "wit"]);
    inlet_plugin_build::build_components(
        root,
        &[
            "inlet-test-plugin-spin",
            "inlet-test-plugin-hog",
            "inlet-test-plugin-trap",
            "inlet-test-plugin-bloat",
            "inlet-test-plugin-future",
            "inlet-test-plugin-config",
        ],
        "inlet-test-plugin-",
        &out,
    );
}
