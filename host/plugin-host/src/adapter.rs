//! What the adapters of every WIT version share. Each version's bindings are distinct types
//! with the same shape, so the shared parts are macros expanded in each adapter.

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

/// A version's `describe` config fields as the host shows them.
macro_rules! config_fields {
    ($fields:expr) => {
        $fields
            .into_iter()
            .map(|f| crate::ConfigFieldView {
                name: f.name,
                description: f.description,
                required: f.required,
                secret: f.secret,
            })
            .collect()
    };
}

pub(crate) use {config_fields, crypto_functions, shared_imports};
