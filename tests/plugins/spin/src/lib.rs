//! Never returns: the host's CPU deadline must stop it.

use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict};

pub struct Spin;

impl Plugin for Spin {
    fn describe() -> PluginInfo {
        PluginInfo::new("spin", "0.0.0", "loops forever")
    }

    fn verify(_: &Request, _: &Config) -> Verdict {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

inlet_sdk::export_plugin!(Spin);
