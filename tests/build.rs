//! Builds the hostile test plugins (`tests/plugins/*`) into WebAssembly components, and
//! lists the built-in provider plugins (`plugins/*`) with their conformance cases for
//! `tests/e2e/providers.rs`.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    inlet_plugin_build::rerun_if_changed(root, &["tests/plugins", "sdk/src", "wit", "plugins"]);
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
        &out.join("plugins"),
    );

    let mut catalogue = String::from("&[\n");
    for package in inlet_plugin_build::packages_in(&root.join("plugins"), "inlet-plugin-") {
        let name = package.strip_prefix("inlet-plugin-").unwrap();
        let cases = root.join("plugins").join(name).join("cases.json");
        let krate = package.replace('-', "_");
        writeln!(
            catalogue,
            "    ({name:?}, include_str!({:?}), <{krate}::Exported as inlet_sdk::conformance::Signer>::sign),",
            cases.display().to_string()
        )
        .unwrap();
    }
    catalogue.push(']');
    std::fs::write(out.join("catalogue.rs"), catalogue).unwrap();
}
