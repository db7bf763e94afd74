//! The Inlet plugin SDK: write a provider plugin as a plain Rust type implementing
//! [`Plugin`], export it with [`export_plugin!`], and unit-test it natively with
//! `cargo test`. Built for `wasm32-wasip2`, the same crate is a WebAssembly component
//! exporting `inlet:plugin/handler@0.2.0` (see `wit/v0.2.0/plugin.wit`). `sdk/README.md` is
//! the contributor guide.
//!
//! ```
//! use inlet_sdk::crypto::{constant_time_eq, hmac_sha256};
//! use inlet_sdk::{Config, Plugin, PluginInfo, Request, Verdict, hex_decode};
//!
//! pub struct Acme;
//!
//! impl Plugin for Acme {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("acme", env!("CARGO_PKG_VERSION"), "Acme webhooks").secret()
//!     }
//!
//!     fn verify(request: &Request, config: &Config) -> Verdict {
//!         let Some(secret) = config.secret() else {
//!             return Verdict::misconfigured("secret");
//!         };
//!         let Some(signature) = request.header("x-acme-signature") else {
//!             return Verdict::reject("missing signature");
//!         };
//!         let expected = hmac_sha256(secret.as_bytes(), &request.body);
//!         match hex_decode(signature) {
//!             Some(signature) if constant_time_eq(&signature, &expected) => {
//!                 Verdict::accept().with_event_type(request.header("x-acme-event"))
//!             }
//!             _ => Verdict::reject("invalid signature"),
//!         }
//!     }
//! }
//!
//! inlet_sdk::export_plugin!(Acme);
//!
//! let signature = inlet_sdk::hex_encode(&hmac_sha256(b"k", b"{}"));
//! let request = Request::post("{}")
//!     .with_header("X-Acme-Signature", &signature)
//!     .with_header("X-Acme-Event", "order.paid");
//! assert_eq!(
//!     Acme::verify(&request, &Config::with_secret("k")),
//!     Verdict::accept().with_event_type("order.paid")
//! );
//! assert!(!Acme::verify(&request, &Config::with_secret("other")).is_accept());
//! ```

#[cfg(not(target_arch = "wasm32"))]
pub mod conformance;
pub mod crypto;
pub mod encoding;
pub mod log;
mod types;

pub use encoding::Alphabet;
pub use types::{
    Config, ConfigField, DEFAULT_TOLERANCE_SECONDS, PluginInfo, Request, TEST_URL, Verdict,
};

/// A provider plugin. Both functions are pure: everything a plugin knows arrives in its
/// arguments (there is no clock, filesystem, network or environment).
pub trait Plugin {
    /// Name, version, description and the configuration the plugin expects.
    fn describe() -> PluginInfo;
    /// Decides on one request: accept it, reject it, or answer it directly.
    fn verify(request: &Request, config: &Config) -> Verdict;
}

/// Lower-case hex.
pub fn hex_encode(bytes: &[u8]) -> String {
    encoding::encode(Alphabet::Hex, bytes)
}

/// Hex in either case; `None` if malformed.
pub fn hex_decode(text: &str) -> Option<Vec<u8>> {
    encoding::decode(Alphabet::Hex, text)
}

/// Standard base64 (`+/`) with padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    encoding::encode(Alphabet::Base64, bytes)
}

/// Standard base64 (`+/`), padded or not; `None` if malformed.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    encoding::decode(Alphabet::Base64, text)
}

/// URL-safe base64 (`-_`) without padding.
pub fn base64url_encode(bytes: &[u8]) -> String {
    encoding::encode(Alphabet::Base64Url, bytes)
}

/// URL-safe base64 (`-_`), padded or not; `None` if malformed.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    encoding::decode(Alphabet::Base64Url, text)
}

/// The generated WIT bindings (only in a wasm build), used by [`export_plugin!`].
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/v0.2.0",
        world: "provider",
        pub_export_macro: true,
        default_bindings_module: "inlet_sdk::bindings",
    });
}

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod wasm;

/// Exports a [`Plugin`] as the component's `inlet:plugin/handler@0.2.0`: use it once, in the
/// plugin crate's `lib.rs`, with the plugin type's name. Natively it only names the type
/// `Exported` (Inlet's conformance tests find each built-in plugin's [`Signer`] by it), so the
/// plugin's unit tests run with plain `cargo test`.
///
/// [`Signer`]: conformance::Signer
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ident) => {
        /// The plugin this crate exports.
        pub type Exported = $plugin;

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::inlet::plugin::handler;
            impl handler::Guest for $plugin {
                fn describe() -> handler::PluginInfo {
                    $crate::wasm::describe::<$plugin>()
                }
                fn verify(
                    request: handler::Request,
                    config: handler::SourceConfig,
                ) -> handler::Verdict {
                    $crate::wasm::verify::<$plugin>(request, config)
                }
            }
    $crate::bindings::export!($plugin with_types_in $crate::bindings);
        };
    };
}

/// Compiles and runs `README.md`'s example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
