//! Compiles the built-in provider plugins (every crate in `plugins/`) to WebAssembly
//! components, and those to machine code for this machine, which `src/lib.rs` embeds in the
//! binary: a start loads them without compiling anything.

use std::fmt::Write;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().and_then(Path::parent).unwrap();
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    inlet_plugin_build::rerun_if_changed(root, &["plugins", "sdk/src", "sdk/Cargo.toml", "wit"]);
    let packages = inlet_plugin_build::packages_in(&root.join("plugins"), "inlet-plugin-");
    let components = inlet_plugin_build::build_components(
        root,
        &packages,
        "inlet-plugin-",
        &out.join("plugins"),
    );
    let compiled = inlet_plugin_build::precompile(&components);
    let mut list = String::from("&[\n");
    for path in &compiled {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap();
        writeln!(
            list,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    list.push(']');
    std::fs::write(out.join("built_in.rs"), list).unwrap();
}
