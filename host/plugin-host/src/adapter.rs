//! What the adapters of every WIT version share. Each version's bindings are distinct types
//! with the same shape, so the shared parts are macros expanded in each adapter.

/// `add_to_linker`, `pre` and `describe` for the version in scope; `$credential_headers`
/// maps its `plugin-info` to the credential headers it declares.
macro_rules! loading {
    (|$info:ident| $credential_headers:expr) => {
        pub(crate) fn add_to_linker(
            linker: &mut wasmtime::component::Linker<CallState>,
        ) -> wasmtime::Result<()> {
            Provider::add_to_linker::<CallState, wasmtime::component::HasSelf<CallState>>(
                linker,
                |s| s,
            )
        }

        pub(crate) fn pre(
            pre: wasmtime::component::InstancePre<CallState>,
        ) -> anyhow::Result<ProviderPre<CallState>> {
            ProviderPre::new(pre).map_err(|e| anyhow::anyhow!("{e}"))
        }

        pub(crate) fn describe(
            store: &mut Store<CallState>,
            pre: &ProviderPre<CallState>,
        ) -> wasmtime::Result<crate::PluginInfo> {
            let $info = pre
                .instantiate(&mut *store)?
                .inlet_plugin_handler()
                .call_describe(store)?;
            Ok(crate::PluginInfo {
                name: $info.name,
                version: $info.version,
                description: $info.description,
                config: $info
                    .config
                    .into_iter()
                    .map(|f| crate::ConfigFieldView {
                        name: f.name,
                        description: f.description,
                        required: f.required,
                        secret: f.secret,
                    })
                    .collect(),
                credential_headers: $credential_headers,
            })
        }
    };
}

/// `types::Host`, the `hash` conversion and `log::Host`, for the version in scope.
macro_rules! shared_imports {
    () => {
        impl types::Host for CallState {}

        fn hash(algorithm: crypto::HashAlgorithm) -> inlet_sdk::crypto::HashAlgorithm {
            match algorithm {
                crypto::HashAlgorithm::Sha1 => inlet_sdk::crypto::HashAlgorithm::Sha1,
                crypto::HashAlgorithm::Sha256 => inlet_sdk::crypto::HashAlgorithm::Sha256,
                crypto::HashAlgorithm::Sha512 => inlet_sdk::crypto::HashAlgorithm::Sha512,
            }
        }

        impl log::Host for CallState {
            fn log(&mut self, level: log::Level, message: String) {
                let level = match level {
                    log::Level::Debug => tracing::Level::DEBUG,
                    log::Level::Info => tracing::Level::INFO,
                    log::Level::Warn => tracing::Level::WARN,
                    log::Level::Error => tracing::Level::ERROR,
                };
                self.log(level, message);
            }
        }
    };
}

/// The `crypto` functions every version has, inside its `impl crypto::Host`.
macro_rules! crypto_functions {
    () => {
        fn hmac(
            &mut self,
            algorithm: crypto::HashAlgorithm,
            key: Vec<u8>,
            data: Vec<u8>,
        ) -> Vec<u8> {
            inlet_sdk::crypto::hmac(hash(algorithm), &key, &data)
        }

        fn digest(&mut self, algorithm: crypto::HashAlgorithm, data: Vec<u8>) -> Vec<u8> {
            inlet_sdk::crypto::digest(hash(algorithm), &data)
        }

        fn constant_time_eq(&mut self, a: Vec<u8>, b: Vec<u8>) -> bool {
            inlet_sdk::crypto::constant_time_eq(&a, &b)
        }

        fn ed25519_verify(&mut self, key: Vec<u8>, message: Vec<u8>, signature: Vec<u8>) -> bool {
            inlet_sdk::crypto::ed25519_verify(&key, &message, &signature)
        }
    };
}

pub(crate) use {crypto_functions, loading, shared_imports};
