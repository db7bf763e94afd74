//! Allocates without bound: the host's memory limit must stop it.

use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict};

pub struct Hog;

impl Plugin for Hog {
    fn describe() -> PluginInfo {
        PluginInfo::new("hog", "0.0.0", "allocates without bound")
    }

    fn verify(_: &Request, _: &Config) -> Verdict {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            hoard.push(std::hint::black_box(vec![1u8; 8 << 20]));
        }
    }
}

inlet_sdk::export_plugin!(Hog);
