//! Built against `inlet:plugin@0.99.0`, a version no host supports: it must be refused
//! at load with a clear message. It would accept everything.

#[cfg(target_arch = "wasm32")]
mod plugin {
    wit_bindgen::generate!({ path: "wit", world: "provider" });

    use exports::inlet::plugin::handler::{Guest, PluginInfo, Request, Verdict};
    use inlet::plugin::types::Accept;

    struct Future;

    impl Guest for Future {
        fn describe() -> PluginInfo {
            PluginInfo {
                name: "future".into(),
                version: "0.0.0".into(),
                description: "built for a newer WIT".into(),
                config: Vec::new(),
            }
        }

        fn verify(_: Request, _: Vec<(String, String)>) -> Verdict {
            Verdict::Accept(Accept {
                event_type: None,
                idempotency_key: None,
            })
        }
    }

    export!(Future);
}
