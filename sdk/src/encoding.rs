//! Hex and base64, done by the host in a plugin (natively, by the same Rust code the host
//! runs).

/// The text encodings of binary data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alphabet {
    /// Lower-case on encode; either case on decode.
    Hex,
    /// Standard (`+/`), padded on encode; with or without padding on decode.
    Base64,
    /// URL-safe (`-_`), unpadded on encode; with or without padding on decode.
    Base64Url,
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{decode, encode};

/// The WIT `encoding` import (only in a wasm build).
#[cfg(target_arch = "wasm32")]
mod wasm {
    use super::Alphabet;
    use crate::bindings::inlet::plugin::encoding as host;

    fn to_host(alphabet: Alphabet) -> host::Alphabet {
        match alphabet {
            Alphabet::Hex => host::Alphabet::Hex,
            Alphabet::Base64 => host::Alphabet::Base64,
            Alphabet::Base64Url => host::Alphabet::Base64url,
        }
    }

    pub fn encode(alphabet: Alphabet, data: &[u8]) -> String {
        host::encode(to_host(alphabet), data)
    }

    pub fn decode(alphabet: Alphabet, text: &str) -> Option<Vec<u8>> {
        host::decode(to_host(alphabet), text)
    }
}
#[cfg(target_arch = "wasm32")]
pub use wasm::{decode, encode};

/// The native implementation (not in a wasm build), which the host runs to answer the
/// WIT `encoding` import.
#[cfg(not(target_arch = "wasm32"))]
pub mod native {
    use base64::Engine;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

    use super::Alphabet;

    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const BASE64: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
    const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        LENIENT.with_encode_padding(false),
    );

    pub fn encode(alphabet: Alphabet, data: &[u8]) -> String {
        match alphabet {
            Alphabet::Hex => hex::encode(data),
            Alphabet::Base64 => BASE64.encode(data),
            Alphabet::Base64Url => BASE64_URL.encode(data),
        }
    }

    pub fn decode(alphabet: Alphabet, text: &str) -> Option<Vec<u8>> {
        match alphabet {
            Alphabet::Hex => hex::decode(text).ok(),
            Alphabet::Base64 => BASE64.decode(text).ok(),
            Alphabet::Base64Url => BASE64_URL.decode(text).ok(),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refusals() {
        assert_eq!(encode(Alphabet::Hex, &[0x00, 0xab, 0xff]), "00abff");
        assert_eq!(
            decode(Alphabet::Hex, "00ABff"),
            Some(vec![0x00, 0xab, 0xff])
        );
        assert_eq!(decode(Alphabet::Hex, "abc"), None);
        assert_eq!(decode(Alphabet::Hex, "zz"), None);
        assert_eq!(encode(Alphabet::Base64, &[0xfb, 0xff]), "+/8=");
        assert_eq!(decode(Alphabet::Base64, "+/8="), Some(vec![0xfb, 0xff]));
        assert_eq!(decode(Alphabet::Base64, "+/8"), Some(vec![0xfb, 0xff]));
        assert_eq!(decode(Alphabet::Base64, "-_8"), None);
        assert_eq!(decode(Alphabet::Base64, "not base64!"), None);
        assert_eq!(encode(Alphabet::Base64Url, &[0xfb, 0xff]), "-_8");
        assert_eq!(decode(Alphabet::Base64Url, "-_8="), Some(vec![0xfb, 0xff]));
        assert_eq!(decode(Alphabet::Base64Url, "+/8="), None);
    }
}
