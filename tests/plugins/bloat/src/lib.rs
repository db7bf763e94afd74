//! Answers with a 1 MiB body, over the host's output bound (64 KiB).

use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict};

pub struct Bloat;

impl Plugin for Bloat {
    fn describe() -> PluginInfo {
        PluginInfo::new("bloat", "0.0.0", "answers with an oversized body")
    }

    fn verify(_: &Request, _: &Config) -> Verdict {
        Verdict::respond_json(200, vec![b' '; 1 << 20])
    }
}

inlet_sdk::export_plugin!(Bloat);
