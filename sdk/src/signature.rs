//! The signature most providers send: one header holding a prefix (`sha256=`, or none) and
//! the encoded HMAC of what they sign. A plugin states its provider's header once, as a
//! [`HmacHeader`] constant, and checks (and, for its tests, makes) signatures with it.

use crate::crypto::HashAlgorithm;
use crate::{Alphabet, Config, Request, Verdict};

/// A provider's signature header: `name: <prefix><alphabet-encoded HMAC>`.
#[derive(Debug, Clone, Copy)]
pub struct HmacHeader {
    /// Lower-case header name.
    pub name: &'static str,
    /// What precedes the signature (`"sha256="`), or `""`.
    pub prefix: &'static str,
    pub alphabet: Alphabet,
    pub algorithm: HashAlgorithm,
}

impl HmacHeader {
    /// Whether the request's header is the HMAC of `message` under any active secret (in
    /// constant time); `Err` is the reject to answer with: the header missing, or the
    /// signature invalid (malformed, or made with no active secret).
    pub fn verify(
        &self,
        request: &Request,
        config: &Config,
        message: &[u8],
    ) -> Result<(), Verdict> {
        let header = request
            .header(self.name)
            .ok_or_else(|| Verdict::reject("missing signature"))?;
        let signature = header
            .trim()
            .strip_prefix(self.prefix)
            .and_then(|encoded| crate::encoding::decode(self.alphabet, encoded));
        match signature {
            Some(signature) if config.signed_by_any_secret(self.algorithm, message, &signature) => {
                Ok(())
            }
            _ => Err(Verdict::reject("invalid signature")),
        }
    }

    /// Adds the header as the provider sends it, signing `message` with the current secret
    /// (for a plugin's `Signer`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn sign(&self, request: &mut Request, config: &Config, message: &[u8]) {
        let secret = config.secret().unwrap_or_default();
        let mac = crate::crypto::hmac(self.algorithm, secret.as_bytes(), message);
        let value = format!(
            "{}{}",
            self.prefix,
            crate::encoding::encode(self.alphabet, &mac)
        );
        request.headers.push((self.name.to_string(), value));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    const GITHUB: HmacHeader = HmacHeader {
        name: "x-hub-signature-256",
        prefix: "sha256=",
        alphabet: Alphabet::Hex,
        algorithm: HashAlgorithm::Sha256,
    };

    #[test]
    fn verifies_githubs_published_example_and_what_it_signs() {
        let config = Config::with_secret("It's a Secret to Everybody");
        let request = Request::post("Hello, World!").with_header(
            "X-Hub-Signature-256",
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        );
        assert_eq!(GITHUB.verify(&request, &config, &request.body), Ok(()));
        let mut signed = Request::post("{}");
        GITHUB.sign(&mut signed, &config, b"{}");
        assert_eq!(GITHUB.verify(&signed, &config, b"{}"), Ok(()));
        assert_eq!(
            GITHUB.verify(&signed, &config, b"[]"),
            Err(Verdict::reject("invalid signature"))
        );
        assert_eq!(
            GITHUB.verify(&signed, &Config::with_secret("other"), b"{}"),
            Err(Verdict::reject("invalid signature"))
        );
        assert_eq!(
            GITHUB.verify(&Request::post("{}"), &config, b"{}"),
            Err(Verdict::reject("missing signature"))
        );
        for malformed in ["", "sha256=", "sha256=zz", "sha1=00", "757107ea0e"] {
            let request = Request::post("{}").with_header("x-hub-signature-256", malformed);
            assert!(
                GITHUB.verify(&request, &config, b"{}").is_err(),
                "{malformed:?}"
            );
        }
    }
}
