//! The conformance harness: a plugin's cases live in one data file, `cases.json` beside its
//! `Cargo.toml`, and the same file is checked three ways: natively by [`check`] (the
//! plugin's own `cargo test`), through the real wasmtime host, and over real HTTP against
//! the `inlet` binary (Inlet's `tests/e2e/plugins.rs`). A contributor writes each case once.
//!
//! ```json
//! {"cases": [
//!   {"name": "valid signature", "origin": "documented algorithm",
//!    "config": {"secrets": ["s3cret"]},
//!    "request": {"headers": [["x-acme-event", "order.paid"]], "body": "{\"id\":1}"},
//!    "sign": {},
//!    "expect": {"accept": {"event_type": "order.paid"}}},
//!   {"name": "missing signature", "origin": "documented algorithm",
//!    "config": {"secrets": ["s3cret"]}, "request": {"body": "{}"}, "expect": "reject"}
//! ]}
//! ```
//!
//! A case with `sign` is signed by the plugin's [`Signer`] just before it is sent: natively
//! at the case's `received_at`, over HTTP at the real time and for the real URL. The signer
//! adds what the provider adds (headers, or a signature inside the body). `sign` may sign an
//! older moment (`age`, seconds: a stale timestamp), another body (`body`: the case's body
//! is then sent instead, tampered with) or with another configuration (`config`: a wrong
//! secret, or the private key of an asymmetric scheme). A case without `sign` is sent as written;
//! one that depends on its fixed `url` or `received_at` (a provider's published example)
//! says `"over_http": false`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::{Config, Plugin, Request, TEST_URL, Verdict};

/// The provider's side of a plugin, for tests: signs a request as the provider does.
pub trait Signer: Plugin {
    /// Signs `request` (adds the provider's headers, or writes the signature into the body
    /// where the provider puts it there) as the provider would at `request.received_at` for
    /// `request.url`, with `config` (its first secret,
    /// or a private key among its fields). Written from the provider's documentation,
    /// not by calling the plugin's own verification code.
    fn sign(request: &mut Request, config: &Config);
}

/// Receive time of a case that does not set one: 2023-11-14T22:13:20Z.
pub const DEFAULT_RECEIVED_AT: i64 = 1_700_000_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cases {
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    /// Where the case comes from: the published example (a documentation page or an
    /// official SDK's test file), or "documented algorithm" for one built from the docs.
    pub origin: String,
    #[serde(default)]
    pub config: CaseConfig,
    pub request: CaseRequest,
    #[serde(default)]
    pub sign: Option<Signing>,
    /// False for a case bound to its fixed `url` or `received_at`.
    #[serde(default = "yes")]
    pub over_http: bool,
    pub expect: Expect,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseConfig {
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    pub state: BTreeMap<String, String>,
}

impl CaseConfig {
    pub fn to_config(&self) -> Config {
        let pairs = |map: &BTreeMap<String, String>| {
            map.iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Vec<_>>()
        };
        Config {
            secrets: self.secrets.clone(),
            fields: pairs(&self.fields),
            state: pairs(&self.state),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseRequest {
    #[serde(default = "post")]
    pub method: String,
    /// The whole URL the provider called; by default [`TEST_URL`] (natively) or the
    /// source's real ingest URL (over HTTP), with `query`.
    #[serde(default)]
    pub url: Option<String>,
    /// The raw query string, without `?`.
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: String,
    /// The body as standard base64, for bodies that are not UTF-8.
    #[serde(default)]
    pub body_base64: Option<String>,
    #[serde(default = "default_received_at")]
    pub received_at: i64,
}

fn post() -> String {
    "POST".into()
}

fn default_received_at() -> i64 {
    DEFAULT_RECEIVED_AT
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signing {
    /// Signs this many seconds before the request is received.
    #[serde(default)]
    pub age: i64,
    /// Signs this body instead of the one sent.
    #[serde(default)]
    pub body: Option<String>,
    /// Signs with this configuration instead of the case's.
    #[serde(default)]
    pub config: Option<CaseConfig>,
}

/// The verdict a case expects. Over HTTP an accept is a 2xx with the event stored with
/// this type and key, a reject a 401, a respond the same status and body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    Accept {
        #[serde(default)]
        event_type: Option<String>,
        #[serde(default)]
        idempotency_key: Option<String>,
    },
    Reject,
    Respond {
        status: u16,
        /// The exact body, if given.
        #[serde(default)]
        body: Option<String>,
        /// Headers the answer must have (others may be there too).
        #[serde(default)]
        headers: Vec<(String, String)>,
        /// The state the answer keeps; absent when it keeps none.
        #[serde(default)]
        state: Option<Vec<(String, String)>>,
    },
}

impl Cases {
    /// Parses a `cases.json`; panics with the reason, as a test should.
    pub fn parse(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("cases.json is invalid: {e}"))
    }
}

impl Case {
    /// The request and configuration to send: signed by `sign` when the case says so.
    /// `url` is the source's URL to use instead of the case's (over HTTP), `now` the receive
    /// time to use instead of the case's.
    pub fn prepare(
        &self,
        sign: fn(&mut Request, &Config),
        url: Option<&str>,
        now: Option<i64>,
    ) -> (Request, Config) {
        let r = &self.request;
        let url = match (url, &r.url) {
            (None, Some(fixed)) => fixed.clone(),
            (base, _) => {
                let base = base.unwrap_or(TEST_URL);
                match r.query.as_str() {
                    "" => base.to_string(),
                    query => format!("{base}?{query}"),
                }
            }
        };
        let body = match &r.body_base64 {
            Some(encoded) => crate::base64_decode(encoded)
                .unwrap_or_else(|| panic!("{}: body_base64 is not base64", self.name)),
            None => r.body.clone().into_bytes(),
        };
        let mut request = Request {
            method: r.method.clone(),
            headers: r
                .headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect(),
            body,
            received_at: now.unwrap_or(r.received_at),
            ..Request::default()
        }
        .at(&url);
        let config = self.config.to_config();
        if let Some(signing) = &self.sign {
            let mut signed = request.clone();
            if let Some(body) = &signing.body {
                signed.body = body.clone().into_bytes();
            }
            signed.received_at = request.received_at - signing.age;
            let with = signing.config.as_ref().map(CaseConfig::to_config);
            sign(&mut signed, with.as_ref().unwrap_or(&config));
            // What the provider sends: the signed request (whose body the signer may have
            // written, for schemes that sign inside it) at the case's receive time, or, to
            // tamper, the case's body instead of the one signed.
            if signing.body.is_some() {
                signed.body = request.body;
            }
            signed.received_at = request.received_at;
            request = signed;
        }
        (request, config)
    }
}

impl Expect {
    /// Whether `verdict` is what the case expects; else what differs.
    pub fn check(&self, verdict: &Verdict) -> Result<(), String> {
        let matches = match (self, verdict) {
            (
                Expect::Accept {
                    event_type,
                    idempotency_key,
                },
                Verdict::Accept {
                    event_type: found_type,
                    idempotency_key: found_key,
                },
            ) => event_type == found_type && idempotency_key == found_key,
            (Expect::Reject, Verdict::Reject(_)) => true,
            (
                Expect::Respond {
                    status,
                    body,
                    headers,
                    state,
                },
                Verdict::Respond {
                    status: found_status,
                    headers: found_headers,
                    body: found_body,
                    state: found_state,
                },
            ) => {
                status == found_status
                    && body.as_ref().is_none_or(|b| b.as_bytes() == found_body)
                    && headers.iter().all(|(name, value)| {
                        found_headers
                            .iter()
                            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value)
                    })
                    && state == found_state
            }
            _ => false,
        };
        if matches {
            Ok(())
        } else {
            Err(format!("expected {self:?}, got {}", shown(verdict)))
        }
    }
}

/// A verdict for a failure message, with a response body as text.
fn shown(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Respond {
            status,
            headers,
            body,
            state,
        } => format!(
            "Respond {{ status: {status}, headers: {headers:?}, body: {:?}, state: {state:?} }}",
            String::from_utf8_lossy(body)
        ),
        other => format!("{other:?}"),
    }
}

/// Checks every case of a plugin's `cases.json` natively; panics listing the failures.
/// Every accepted request must also be refused with an empty configuration (fail closed).
/// Also holds the file to the catalogue's minimum: at least one signed accept that runs
/// over HTTP, and at least one reject.
///
/// ```ignore
/// #[test]
/// fn conformance() {
///     inlet_sdk::conformance::check::<Acme>(include_str!("../cases.json"));
/// }
/// ```
pub fn check<P: Signer>(cases_json: &str) {
    let cases = Cases::parse(cases_json);
    let failures: Vec<String> = cases
        .cases
        .iter()
        .filter_map(|case| {
            let (request, config) = case.prepare(P::sign, None, None);
            let verdict = P::verify(&request, &config);
            case.expect
                .check(&verdict)
                .err()
                .map(|why| format!("{}: {why}", case.name))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.cases.len(),
        failures.join("\n")
    );
    // Fail closed: what the plugin accepts, a source configured with nothing refuses.
    for case in &cases.cases {
        if let Expect::Accept { .. } = case.expect {
            let (request, _) = case.prepare(P::sign, None, None);
            assert!(
                !P::verify(&request, &Config::default()).is_accept(),
                "{}: accepted by a source with no secret, fields or state",
                case.name
            );
        }
    }
    assert!(
        cases
            .cases
            .iter()
            .any(|c| c.sign.is_some() && c.over_http && matches!(c.expect, Expect::Accept { .. })),
        "cases.json needs a signed accept case that runs over HTTP"
    );
    assert!(
        cases.cases.iter().any(|c| c.expect == Expect::Reject),
        "cases.json needs a reject case"
    );
}

/// Signing for [`Signer`]s of asymmetric schemes (tests only: a plugin never signs).
pub mod sign {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, RsaKeyPair};
    use ed25519_dalek::Signer as _;

    use crate::crypto::HashAlgorithm;

    /// The RFC 3339 form of Unix seconds at a UTC offset in seconds (`2023-11-14T22:13:20Z`
    /// at 0, `2023-11-14T14:13:20-08:00` at -28800), for providers that sign such stamps.
    pub fn rfc3339(unix: i64, offset_seconds: i32) -> String {
        use time::format_description::well_known::Rfc3339;
        let offset = time::UtcOffset::from_whole_seconds(offset_seconds).expect("an offset");
        time::OffsetDateTime::from_unix_timestamp(unix)
            .expect("a time in range")
            .to_offset(offset)
            .format(&Rfc3339)
            .expect("RFC 3339")
    }

    /// An Ed25519 signature (64 bytes) of `message` with a 32-byte seed.
    pub fn ed25519(seed: &[u8], message: &[u8]) -> Vec<u8> {
        let seed: [u8; 32] = seed.try_into().expect("an Ed25519 seed is 32 bytes");
        ed25519_dalek::SigningKey::from_bytes(&seed)
            .sign(message)
            .to_bytes()
            .to_vec()
    }

    /// The public key (32 bytes) of an Ed25519 seed.
    pub fn ed25519_public_key(seed: &[u8]) -> Vec<u8> {
        let seed: [u8; 32] = seed.try_into().expect("an Ed25519 seed is 32 bytes");
        ed25519_dalek::SigningKey::from_bytes(&seed)
            .verifying_key()
            .to_bytes()
            .to_vec()
    }

    /// A DER ECDSA P-256 signature over SHA-256 of `message`, with a PKCS#8 DER key.
    pub fn ecdsa_p256_sha256(pkcs8: &[u8], message: &[u8]) -> Vec<u8> {
        let key = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8)
            .expect("a P-256 PKCS#8 key");
        key.sign(&SystemRandom::new(), message)
            .expect("signing")
            .as_ref()
            .to_vec()
    }

    /// An RSASSA-PKCS1-v1_5 signature of `message` with SHA-256 or SHA-512, with a PKCS#8
    /// DER key. (aws-lc-rs does not sign with SHA-1; the verifier's SHA-1 path is tested
    /// with OpenSSL's signatures.)
    pub fn rsa_pkcs1v15(algorithm: HashAlgorithm, pkcs8: &[u8], message: &[u8]) -> Vec<u8> {
        let key = RsaKeyPair::from_pkcs8(pkcs8).expect("an RSA PKCS#8 key");
        let padding = match algorithm {
            HashAlgorithm::Sha1 => panic!("RSA signing with SHA-1 is not offered"),
            HashAlgorithm::Sha256 => &signature::RSA_PKCS1_SHA256,
            HashAlgorithm::Sha512 => &signature::RSA_PKCS1_SHA512,
        };
        let mut signature = vec![0; key.public_modulus_len()];
        key.sign(padding, &SystemRandom::new(), message, &mut signature)
            .expect("signing");
        signature
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{HashAlgorithm, hmac_sha256};
    use crate::{PluginInfo, hex_decode, hex_encode};

    struct Acme;

    impl Plugin for Acme {
        fn describe() -> PluginInfo {
            PluginInfo::new("acme", "1", "test").secret().tolerance()
        }

        fn verify(request: &Request, config: &Config) -> Verdict {
            let Some(secret) = config.secret() else {
                return Verdict::misconfigured("secret");
            };
            let (Some(t), Some(sig)) = (request.header("x-t"), request.header("x-sig")) else {
                return Verdict::reject("missing signature");
            };
            let Ok(timestamp) = t.parse() else {
                return Verdict::reject("bad timestamp");
            };
            let mut signed = format!("{t}.{}.", request.url).into_bytes();
            signed.extend_from_slice(&request.body);
            let genuine = hex_decode(sig).is_some_and(|sig| {
                crate::crypto::constant_time_eq(&sig, &hmac_sha256(secret.as_bytes(), &signed))
            });
            if !genuine {
                Verdict::reject("invalid signature")
            } else if !request.is_fresh(timestamp, config) {
                Verdict::reject("stale")
            } else if request.method == "GET" {
                Verdict::respond_json(200, "{}").keeping(&[("k", "v")])
            } else {
                Verdict::accept().with_event_type(request.header("x-event"))
            }
        }
    }

    impl Signer for Acme {
        fn sign(request: &mut Request, config: &Config) {
            let t = request.received_at.to_string();
            let mut signed = format!("{t}.{}.", request.url).into_bytes();
            signed.extend_from_slice(&request.body);
            let sig = hex_encode(&hmac_sha256(config.secret().unwrap().as_bytes(), &signed));
            request.headers.push(("x-t".into(), t));
            request.headers.push(("x-sig".into(), sig));
        }
    }

    const CASES: &str = r#"{"cases": [
        {"name": "valid", "origin": "test", "config": {"secrets": ["s"]},
         "request": {"headers": [["X-Event", "a.b"]], "body": "{}"}, "sign": {},
         "expect": {"accept": {"event_type": "a.b"}}},
        {"name": "valid at another URL", "origin": "test", "config": {"secrets": ["s"]},
         "request": {"url": "https://other.example/x?y=1", "body": "{}"}, "sign": {},
         "over_http": false, "expect": {"accept": {}}},
        {"name": "tampered", "origin": "test", "config": {"secrets": ["s"]},
         "request": {"body": "{}"}, "sign": {"body": "[]"}, "expect": "reject"},
        {"name": "wrong secret", "origin": "test", "config": {"secrets": ["s"]},
         "request": {"body": "{}"}, "sign": {"config": {"secrets": ["t"]}}, "expect": "reject"},
        {"name": "stale", "origin": "test", "config": {"secrets": ["s"]},
         "request": {"body": "{}"}, "sign": {"age": 301}, "expect": "reject"},
        {"name": "within a wider window", "origin": "test",
         "config": {"secrets": ["s"], "fields": {"tolerance_seconds": "400"}},
         "request": {"body": "{}"}, "sign": {"age": 301}, "expect": {"accept": {}}},
        {"name": "missing", "origin": "test", "config": {"secrets": ["s"]},
         "request": {"body": "{}"}, "expect": "reject"},
        {"name": "handshake", "origin": "test", "config": {"secrets": ["s"]},
         "request": {"method": "GET", "query": "c=1"}, "sign": {},
         "expect": {"respond": {"status": 200, "body": "{}",
                    "headers": [["Content-Type", "application/json"]], "state": [["k", "v"]]}}}
    ]}"#;

    #[test]
    fn a_plugin_passes_its_cases() {
        check::<Acme>(CASES);
    }

    #[test]
    #[should_panic(expected = "1 of 1 cases failed:\nwrong: expected Reject, got Accept")]
    fn a_failing_case_is_named() {
        check::<Acme>(
            r#"{"cases": [{"name": "wrong", "origin": "test", "config": {"secrets": ["s"]},
                "request": {}, "sign": {}, "expect": "reject"}]}"#,
        );
    }

    struct Open;

    impl Plugin for Open {
        fn describe() -> PluginInfo {
            PluginInfo::new("open", "1", "accepts everything")
        }

        fn verify(_: &Request, _: &Config) -> Verdict {
            Verdict::accept()
        }
    }

    impl Signer for Open {
        fn sign(_: &mut Request, _: &Config) {}
    }

    #[test]
    #[should_panic(expected = "valid: accepted by a source with no secret, fields or state")]
    fn a_plugin_that_fails_open_is_refused() {
        check::<Open>(
            r#"{"cases": [{"name": "valid", "origin": "test", "config": {"secrets": ["s"]},
                "request": {}, "sign": {}, "expect": {"accept": {}}}]}"#,
        );
    }

    #[test]
    #[should_panic(expected = "needs a signed accept case")]
    fn a_file_without_a_signed_accept_is_refused() {
        check::<Acme>(
            r#"{"cases": [{"name": "missing", "origin": "test", "config": {"secrets": ["s"]},
                "request": {}, "expect": "reject"}]}"#,
        );
    }

    #[test]
    #[should_panic(expected = "unknown field `expected`")]
    fn a_misspelt_field_is_refused() {
        Cases::parse(
            r#"{"cases": [{"name": "x", "origin": "t", "request": {}, "expected": "reject"}]}"#,
        );
    }

    #[test]
    fn prepare_signs_with_the_real_url_and_time_when_given() {
        let cases = Cases::parse(CASES);
        let (request, _) =
            cases.cases[0].prepare(Acme::sign, Some("http://127.0.0.1:1/ingest/m"), Some(5));
        assert_eq!(request.url, "http://127.0.0.1:1/ingest/m");
        assert_eq!((request.received_at, request.header("x-t")), (5, Some("5")));
        let (tampered, _) = cases.cases[2].prepare(Acme::sign, None, None);
        assert_eq!(tampered.body, b"{}");
    }

    #[test]
    fn rfc3339_stamps_read_back() {
        assert_eq!(sign::rfc3339(1_700_000_000, 0), "2023-11-14T22:13:20Z");
        assert_eq!(
            sign::rfc3339(1_700_000_000, -8 * 3600),
            "2023-11-14T14:13:20-08:00"
        );
        for offset in [0, -8 * 3600, 5 * 3600 + 1800] {
            let stamp = sign::rfc3339(1_700_000_000, offset);
            assert_eq!(crate::unix_from_rfc3339(&stamp), Some(1_700_000_000));
        }
    }

    #[test]
    fn asymmetric_signatures_verify_with_the_hosts_crypto() {
        let seed = [7; 32];
        let public = sign::ed25519_public_key(&seed);
        assert!(crate::crypto::ed25519_verify(
            &public,
            b"m",
            &sign::ed25519(&seed, b"m")
        ));
        // The P-256 and RSA keys whose public halves `crypto`'s tests use.
        let ec = crate::base64_decode(TEST_EC_PKCS8).unwrap();
        let ec_public = crate::base64_decode(TEST_EC_SPKI).unwrap();
        let signature = sign::ecdsa_p256_sha256(&ec, b"m");
        assert!(crate::crypto::ecdsa_p256_sha256_verify(
            &ec_public, b"m", &signature
        ));
        let rsa = crate::base64_decode(TEST_RSA_PKCS8).unwrap();
        let rsa_public = crate::base64_decode(TEST_RSA_SPKI).unwrap();
        let signature = sign::rsa_pkcs1v15(HashAlgorithm::Sha256, &rsa, b"m");
        assert!(crate::crypto::rsa_pkcs1v15_verify(
            HashAlgorithm::Sha256,
            &rsa_public,
            b"m",
            &signature
        ));
    }

    const TEST_EC_PKCS8: &str = "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgoLobXkX2DdUySUTD+tv1IXr4TObOqQShvM7GEB37ALmhRANCAARSo1pTHc+WeSOQ7kmR0aPobqXw8qecjStw1vqmmmtcZNsq5BaTpO95hn1gdU+TwYX5q9tzkaRXXpDcwy855mbd";
    const TEST_EC_SPKI: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEUqNaUx3PlnkjkO5JkdGj6G6l8PKnnI0rcNb6ppprXGTbKuQWk6TveYZ9YHVPk8GF+avbc5GkV16Q3MMvOeZm3Q==";
    const TEST_RSA_SPKI: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAxeuhTwLA33jaVzqsbB/3dsv2LpKArr7yurYZueirL2s+zWFVapTzZjamNntRZfqOT3QpTNWPRtUiWJLY3bLW4psd8BGAAxICgCZJvg32GeSUWOdA6KgdqsxjhZicTclMwL7NKf4pIuq9WNo5id6pmKBO6FlEXTYmpm3sDQ9UO5ffQt98zqzEZYomTdFZU5gdNFNW3pzokC47sDY7SZnJEwKhcD6p5IAvae+HRfb4P3ot8aIlplPvh2YBEbVLsaOwE/7PLWCi65eYWGXUp2aNorco/pqw0mfAeBnKa4VDsP6lLKJFXfYCmgZTZlS37oGmbWmA3vgF2x5NtORgmefWjwIDAQAB";
    const TEST_RSA_PKCS8: &str = "MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDF66FPAsDfeNpXOqxsH/d2y/YukoCuvvK6thm56Ksvaz7NYVVqlPNmNqY2e1Fl+o5PdClM1Y9G1SJYktjdstbimx3wEYADEgKAJkm+DfYZ5JRY50DoqB2qzGOFmJxNyUzAvs0p/iki6r1Y2jmJ3qmYoE7oWURdNiambewND1Q7l99C33zOrMRliiZN0VlTmB00U1benOiQLjuwNjtJmckTAqFwPqnkgC9p74dF9vg/ei3xoiWmU++HZgERtUuxo7AT/s8tYKLrl5hYZdSnZo2ityj+mrDSZ8B4GcprhUOw/qUsokVd9gKaBlNmVLfugaZtaYDe+AXbHk205GCZ59aPAgMBAAECggEAAXea4AY8s3YRZEvROGdPmH1a61h3BL9HTF604nMY8HE363eDwGuvQZGOejaVfA83RoaCwd45bC8rTIMg1sU7IOiWeGT2JnpX3hGql/KW4Z/sq5th7feaagg5hVAuzx16vgO2wKTGMvXmMRuZCUPHImmvJrt2rXGNKCGwz3NOzrbw/8oM2lq8EAqU+SyVuifSjP+ulIbkAOI4XHeCu8nxNBuq+bANden6kGrWFbVHkd6wF/5D/HS9WJ20ZyhEH15k5QB0oldetBsQoNI8jUaXwAeDCTbfgnM9NAnUPYN5eJPb4iTI70ZVMViC3/A9Pu6T+6cVefXv2nujqvV+Y4mwnQKBgQDq4w5FmO+evUJ2VSEjQZa+EgDVFXlSwjGXVJsK5xLM2rUuTHuQpNYqbDC+0zZlPJcuKwhbsDKZzjwg+Bsv3L2CyPlgBXiWMsf0QmJmB33RxuWJzXJ0VdXAaFOHCZ7O/XvA99R059Kv+N93xzZiNpKXYNKu1tCvABj/FLrebDiKrQKBgQDXtfG4+QIK/WQLySVqz+/2SAz/nKD6erO1eOsWwj+AoODFPb4aO3sL5WIhTOKAqmcDoeCr/D8fcBG25YXDJgmbH/rS8MCYG46HmpuEqVFQ091bAtXUVeK3HH3W1Hto0V9YISGOCXMU+PQoDYm7POaVu9iH4w0Avqh88ZNTcNOpqwKBgQDeRlPBJMLNEwiL9m9Pb8f4wgyrmJCg8kf/jv7RSG4QEX+W+qWL8ZEBwDQ4wKMfFkFyXSKhsZGQ3wsjn+YKWvezhgAHD+ZXLGLwEMoRB1HXbELXLuX6lSeb1p4EkeQIuPOdXmlc3+wOvpKqRIiAVGhQfD2jWoFMuejtqm5UAVFYWQKBgQCbwCuAu4rWFI+gUuRJc0p4MR3xkk5JjT8k0OIt1KO1ZHPm9uXEWx5FQKLSGImTDXbEEKYAiGmrcWfY/3DNrzFQaI7asCrfqUYIc4HHD9o+2jsB89IhNsI0JMZXz6Qr0sFdCM8Jl5kYk4j3Qo8oOpjjlHaL500ENKXDUUpm/RhXcQKBgHIcIN8N0xtw1DgakNIMZNHam3MqB3OrcRegcLN8EzQv2kJi6sjUqg61Az/evptG1jUlYOXMA11GDGdLqj95uHLciikXl4+Y/XP4+/TmhC7Q/itRFOLh5+iCkhHn+WgXxCricYH12/7f/75BtxZrhFlmO5qFrki+bew0egQMydnx";
}
