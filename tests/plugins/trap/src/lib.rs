//! Panics (a trap in WebAssembly).

use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict};

pub struct Trap;

impl Plugin for Trap {
    fn describe() -> PluginInfo {
        PluginInfo::new("trap", "0.0.0", "panics on every request")
    }

    fn verify(request: &Request, _: &Config) -> Verdict {
        panic!(
            "boom after {} bytes",
            std::hint::black_box(request.body.len())
        )
    }
}

inlet_sdk::export_plugin!(Trap);
