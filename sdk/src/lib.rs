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
mod signature;
mod types;

pub use encoding::Alphabet;
pub use signature::{HmacHeader, TimestampedHeader};
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

/// The `key=value` items of a signature header such as Stripe's `t=1,v1=ab,v1=cd` (with
/// `','`) or Paddle's `ts=1;h1=ab` (with `';'`), trimmed, in order; items without `=` are
/// left out. Repeated keys (several signatures during a rotation) each appear.
pub fn header_params(value: &str, separator: char) -> impl Iterator<Item = (&str, &str)> {
    value
        .split(separator)
        .filter_map(|item| item.trim().split_once('='))
}

/// Unix seconds of an RFC 3339 date-time (`2024-01-01T00:00:00.123Z`, any offset), which
/// some providers sign (Box, Twitch); `None` if malformed. Date and time are separated by
/// `T` (RFC 3339's own form; its note allows a space, which no provider sends). The
/// fraction is dropped.
pub fn unix_from_rfc3339(text: &str) -> Option<i64> {
    if !matches!(text.as_bytes().get(10), Some(b'T' | b't')) {
        return None;
    }
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
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

#[cfg(test)]
mod tests {
    #[test]
    fn header_params_split_signature_headers() {
        let items: Vec<_> = super::header_params("t=1, v1=ab,v1=cd,junk,v0=", ',').collect();
        assert_eq!(items, [("t", "1"), ("v1", "ab"), ("v1", "cd"), ("v0", "")]);
        let items: Vec<_> = super::header_params("ts=1;h1=ab", ';').collect();
        assert_eq!(items, [("ts", "1"), ("h1", "ab")]);
        assert_eq!(super::header_params("", ',').count(), 0);
    }

    #[test]
    fn rfc3339_timestamps_read_as_unix_seconds() {
        use super::unix_from_rfc3339 as unix;
        assert_eq!(unix("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(unix("2023-11-14T22:13:20.999999999Z"), Some(1_700_000_000));
        assert_eq!(unix("2023-11-14T15:13:20-07:00"), Some(1_700_000_000));
        for bad in [
            "",
            "2023-11-14",
            "2023-13-01T00:00:00Z",
            "2023-11-14T22:13:20",
            "x",
        ] {
            assert_eq!(unix(bad), None, "{bad:?}");
        }
    }
}

/// Compiles and runs `README.md`'s example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
