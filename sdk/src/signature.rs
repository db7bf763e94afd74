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

/// A header carrying a timestamp and one or more signatures of `<timestamp><joiner><body>`,
/// as Stripe's `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]` or Paddle's
/// `Paddle-Signature: ts=<unix>;h1=<hex>`. Several signatures appear while the provider
/// rolls its secret: one made with any active secret is enough.
#[derive(Debug, Clone, Copy)]
pub struct TimestampedHeader {
    /// Lower-case header name.
    pub name: &'static str,
    /// Between the items (`','` or `';'`).
    pub separator: char,
    /// The timestamp's key (`"t"`), its value Unix seconds.
    pub timestamp: &'static str,
    /// The signatures' key (`"v1"`); items of other keys are ignored.
    pub signature: &'static str,
    pub alphabet: Alphabet,
    pub algorithm: HashAlgorithm,
    /// What the provider puts between the timestamp and the body when it signs (`"."`).
    pub joiner: &'static str,
}

/// More than this many items, or a longer header, is not a provider's.
const MAX_ITEMS: usize = 16;
const MAX_HEADER_LEN: usize = 4096;

impl TimestampedHeader {
    /// Stripe's convention, which Calendly and Mux follow under their own header names:
    /// `t=<unix>,v1=<hex>[,v1=<hex>]`, HMAC-SHA256 of `<t>.<body>`.
    pub const fn stripe_style(name: &'static str) -> Self {
        Self {
            name,
            separator: ',',
            timestamp: "t",
            signature: "v1",
            alphabet: Alphabet::Hex,
            algorithm: HashAlgorithm::Sha256,
            joiner: ".",
        }
    }

    /// The signed timestamp, once a signature verifies and the timestamp is within the
    /// source's replay window; `Err` is the reject to answer with. A second timestamp makes
    /// the header ambiguous and is refused.
    pub fn verify(&self, request: &Request, config: &Config) -> Result<i64, Verdict> {
        let header = request
            .header(self.name)
            .ok_or_else(|| Verdict::reject("missing signature"))?;
        let malformed = || Verdict::reject("malformed signature header");
        if header.len() > MAX_HEADER_LEN || header.split(self.separator).count() > MAX_ITEMS {
            return Err(malformed());
        }
        let mut timestamp = None;
        let mut signatures = Vec::new();
        for (key, value) in crate::header_params(header, self.separator) {
            if key == self.timestamp {
                if timestamp.replace(value).is_some() {
                    return Err(malformed());
                }
            } else if key == self.signature {
                signatures.extend(crate::encoding::decode(self.alphabet, value));
            }
        }
        let t = timestamp.ok_or_else(malformed)?;
        let seconds: i64 = t.parse().map_err(|_| malformed())?;
        let signed = self.signed(t, &request.body);
        let genuine = signatures
            .iter()
            .any(|signature| config.signed_by_any_secret(self.algorithm, &signed, signature));
        if !genuine {
            return Err(Verdict::reject("invalid signature"));
        }
        if !request.is_fresh(seconds, config) {
            return Err(Verdict::reject("timestamp outside the replay window"));
        }
        Ok(seconds)
    }

    fn signed(&self, timestamp: &str, body: &[u8]) -> Vec<u8> {
        [timestamp.as_bytes(), self.joiner.as_bytes(), body].concat()
    }

    /// Adds the header as the provider sends it at `request.received_at`, signed with the
    /// current secret (for a plugin's `Signer`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn sign(&self, request: &mut Request, config: &Config) {
        let t = request.received_at.to_string();
        let secret = config.secret().unwrap_or_default();
        let mac = crate::crypto::hmac(
            self.algorithm,
            secret.as_bytes(),
            &self.signed(&t, &request.body),
        );
        let value = format!(
            "{}={t}{}{}={}",
            self.timestamp,
            self.separator,
            self.signature,
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

    const STRIPE: TimestampedHeader = TimestampedHeader::stripe_style("stripe-signature");

    #[test]
    fn timestamped_headers_verify_any_signature_within_the_window() {
        let config = Config {
            secrets: vec!["new".into(), "old".into()],
            ..Config::default()
        };
        let mut signed = Request::post("{}").received(1000);
        STRIPE.sign(&mut signed, &Config::with_secret("old"));
        assert_eq!(STRIPE.verify(&signed, &config), Ok(1000));
        let header = signed.header("stripe-signature").unwrap().to_string();
        assert!(header.starts_with("t=1000,v1="), "{header}");
        // A second, unknown signature beside a good one is fine; a stale one is not.
        let both = |header: &str, at: i64| {
            Request::post("{}")
                .received(at)
                .with_header("stripe-signature", header)
        };
        let extra = format!("{header},v1=00ff,v0=zz");
        assert_eq!(STRIPE.verify(&both(&extra, 1000), &config), Ok(1000));
        assert_eq!(
            STRIPE.verify(&both(&header, 1301), &config),
            Err(Verdict::reject("timestamp outside the replay window"))
        );
        let tampered = Request::post("[]")
            .received(1000)
            .with_header("stripe-signature", &header);
        assert_eq!(
            STRIPE.verify(&tampered, &config),
            Err(Verdict::reject("invalid signature"))
        );
        for malformed in ["v1=00", "t=x,v1=00", "t=1,t=1000,v1=00", &"t=1,".repeat(20)] {
            assert_eq!(
                STRIPE.verify(&both(malformed, 1000), &config),
                Err(Verdict::reject("malformed signature header")),
                "{malformed:?}"
            );
        }
        assert_eq!(
            STRIPE.verify(&Request::post("{}"), &config),
            Err(Verdict::reject("missing signature"))
        );
    }

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
