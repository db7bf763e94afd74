//! Plain Rust mirrors of the WIT types, independent of the generated bindings.

/// A request as Inlet received it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The public URL the provider called: Inlet's `--public-url`, this request's path and,
    /// if any, `?` and its query.
    pub url: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Lower-case names; a repeated header appears once per value.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Receive time in Unix seconds: the plugin's only clock.
    pub received_at: i64,
}

/// The URL tests' requests are made at, unless they set one with [`Request::at`].
pub const TEST_URL: &str = "https://inlet.example/ingest/test";

impl Request {
    /// A `POST` to [`TEST_URL`] with a body, for tests.
    pub fn post(body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: "POST".into(),
            body: body.into(),
            ..Self::default()
        }
        .at(TEST_URL)
    }

    /// A `GET` to [`TEST_URL`] with a raw query string (without `?`), for tests.
    pub fn get(query: &str) -> Self {
        let url = match query {
            "" => TEST_URL.to_string(),
            query => format!("{TEST_URL}?{query}"),
        };
        Self {
            method: "GET".into(),
            ..Self::default()
        }
        .at(&url)
    }

    /// Sets the URL, and the path and query from it, for tests.
    pub fn at(mut self, url: &str) -> Self {
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let path_start = url[after_scheme..]
            .find('/')
            .map_or(url.len(), |i| after_scheme + i);
        let (path, query) = match url[path_start..].split_once('?') {
            Some((path, query)) => (path, query),
            None => (&url[path_start..], ""),
        };
        self.url = url.to_string();
        self.path = if path.is_empty() { "/" } else { path }.to_string();
        self.query = query.to_string();
        self
    }

    /// Adds a header, for tests.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Sets when the request was received, for tests.
    pub fn received(mut self, unix_seconds: i64) -> Self {
        self.received_at = unix_seconds;
        self
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter, percent-decoded (`+` is a space): the same
    /// decoder (`form_urlencoded`) the host reads `request.query.*` locations with.
    pub fn query_param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The body's form fields (`application/x-www-form-urlencoded`), decoded, in order.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The values at these JSON pointers (RFC 6901: `"/type"`, `"/event/id"`) of the body,
    /// parsed once: strings as they are, numbers and booleans as written, anything else (and
    /// a body that is not JSON) `None`; a value longer than 1 KiB (more than Inlet takes as
    /// an event type or key) is `None` too. What most plugins read their event type and id
    /// with.
    pub fn json_values<const N: usize>(&self, pointers: [&str; N]) -> [Option<String>; N] {
        let body = serde_json::from_slice::<serde_json::Value>(&self.body).ok();
        pointers.map(|pointer| {
            let value = body.as_ref()?.pointer(pointer)?;
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            (text.len() <= MAX_EVENT_FIELD_LEN).then_some(text)
        })
    }

    /// Whether a provider's timestamp (Unix seconds) is within the source's replay window
    /// of the receive time, in either direction: `tolerance_seconds` from the config,
    /// [`DEFAULT_TOLERANCE_SECONDS`] when unset. Declare the field with
    /// [`PluginInfo::tolerance`].
    pub fn is_fresh(&self, timestamp: i64, config: &Config) -> bool {
        self.received_at.abs_diff(timestamp) <= config.tolerance_seconds()
    }
}

/// The longest event type or idempotency key Inlet accepts from a plugin.
pub const MAX_EVENT_FIELD_LEN: usize = 1024;

/// The replay window of a timestamped signature, unless a source sets `tolerance_seconds`.
pub const DEFAULT_TOLERANCE_SECONDS: u64 = 300;

/// What the plugin knows of the source: its active secrets, its `provider_config` fields
/// and the state the plugin kept for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// Every active secret, the current one first.
    pub secrets: Vec<String>,
    /// The source's `provider_config` entries.
    pub fields: Vec<(String, String)>,
    /// What this plugin kept for the source while answering a handshake.
    pub state: Vec<(String, String)>,
}

impl Config {
    /// The value of a `provider_config` field; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        lookup(&self.fields, name)
    }

    /// The current secret (the source's `verifier.hmac.secret`).
    pub fn secret(&self) -> Option<&str> {
        self.secrets().next()
    }

    /// Every active secret (rotation), the current one first. A signature made with any
    /// of them is genuine.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.secrets
            .iter()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Whether `signature` is the HMAC of `message` under any active secret, compared in
    /// constant time: the check of most providers' signatures (rotation included).
    pub fn signed_by_any_secret(
        &self,
        algorithm: crate::crypto::HashAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        self.secrets().any(|secret| {
            let expected = crate::crypto::hmac(algorithm, secret.as_bytes(), message);
            crate::crypto::constant_time_eq(signature, &expected)
        })
    }

    /// A value this plugin kept for the source; an empty value counts as absent.
    pub fn state(&self, name: &str) -> Option<&str> {
        lookup(&self.state, name)
    }

    /// The replay window in seconds: `tolerance_seconds`, or the default when it is unset
    /// or not a number.
    pub fn tolerance_seconds(&self) -> u64 {
        self.get("tolerance_seconds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_TOLERANCE_SECONDS)
    }

    /// A configuration holding just a secret, for tests.
    pub fn with_secret(secret: &str) -> Self {
        Self {
            secrets: vec![secret.into()],
            ..Self::default()
        }
    }

    /// Adds a `provider_config` field, for tests.
    pub fn with_field(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.into(), value.into()));
        self
    }

    /// Adds a state entry, for tests.
    pub fn with_state(mut self, name: &str, value: &str) -> Self {
        self.state.push((name.into(), value.into()));
        self
    }
}

fn lookup<'a>(entries: &'a [(String, String)], name: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// What the plugin decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Store the request as an event.
    Accept {
        event_type: Option<String>,
        idempotency_key: Option<String>,
    },
    /// Refuse it (401). The reason goes to logs and metrics: never put a secret in it.
    Reject(String),
    /// Answer it directly and store nothing (handshakes); `state`, when present, replaces
    /// what the plugin keeps for the source.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        state: Option<Vec<(String, String)>>,
    },
}

impl Verdict {
    /// Accepts the request, with Inlet's default event type and no idempotency key.
    pub fn accept() -> Self {
        Verdict::Accept {
            event_type: None,
            idempotency_key: None,
        }
    }

    /// Sets the event type of an `Accept` (ignored otherwise). Takes `"push"` or an
    /// `Option<&str>` such as [`Request::header`]'s result.
    pub fn with_event_type<'a>(mut self, value: impl Into<Option<&'a str>>) -> Self {
        if let Verdict::Accept { event_type, .. } = &mut self {
            *event_type = value.into().map(str::to_string);
        }
        self
    }

    /// Sets the idempotency key of an `Accept` (ignored otherwise). Takes a `&str` or an
    /// `Option<&str>`.
    pub fn with_idempotency_key<'a>(mut self, value: impl Into<Option<&'a str>>) -> Self {
        if let Verdict::Accept {
            idempotency_key, ..
        } = &mut self
        {
            *idempotency_key = value.into().map(str::to_string);
        }
        self
    }

    /// Refuses the request (Inlet answers 401). The reason is for logs and metrics: never
    /// put a secret or an expected signature in it.
    pub fn reject(reason: impl Into<String>) -> Self {
        Verdict::Reject(reason.into())
    }

    /// The reject for a missing configuration field: fail closed.
    pub fn misconfigured(field: &str) -> Self {
        Verdict::Reject(format!("plugin misconfigured: {field} is required"))
    }

    /// Answers the request directly with a JSON body (`content-type: application/json`)
    /// and stores nothing.
    pub fn respond_json(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self::respond(status, "application/json", body)
    }

    /// Answers the request directly with a body of this content type and stores nothing.
    pub fn respond(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Verdict::Respond {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            state: None,
        }
    }

    /// Adds a header to a `Respond` (ignored otherwise).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Verdict::Respond { headers, .. } = &mut self {
            headers.push((name.to_ascii_lowercase(), value.into()));
        }
        self
    }

    /// Makes a `Respond` replace the source's state with these entries (ignored otherwise).
    pub fn keeping(mut self, entries: &[(&str, &str)]) -> Self {
        if let Verdict::Respond { state, .. } = &mut self {
            *state = Some(
                entries
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            );
        }
        self
    }

    /// Whether this is an `Accept`.
    pub fn is_accept(&self) -> bool {
        matches!(self, Verdict::Accept { .. })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigField {
    pub name: String,
    pub description: String,
    pub required: bool,
    /// Stored as a secret: masked in API answers and logs.
    pub secret: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginInfo {
    /// What a source's `provider` field selects the plugin by.
    pub name: String,
    pub version: String,
    pub description: String,
    pub config: Vec<ConfigField>,
    /// Request headers carrying a credential, masked in stored events.
    pub credential_headers: Vec<String>,
}

impl PluginInfo {
    /// A plugin with no configuration; add it with [`secret`](Self::secret),
    /// [`field`](Self::field) and [`tolerance`](Self::tolerance).
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            ..Self::default()
        }
    }

    /// Declares the required secret: the source's `verifier.hmac.secret` (and, for
    /// rotation, `verifier.hmac.secrets`).
    pub fn secret(self) -> Self {
        self.field(ConfigField {
            name: "secret".into(),
            description: "the webhook signing secret, from verifier.hmac.secret".into(),
            required: true,
            secret: true,
        })
    }

    /// Declares the optional `tolerance_seconds` field: the replay window of the
    /// provider's signed timestamp (see [`Request::is_fresh`]).
    pub fn tolerance(self) -> Self {
        self.field(ConfigField {
            name: "tolerance_seconds".into(),
            description: format!(
                "how far, in seconds, the signed timestamp may be from the receive time \
                 (default {DEFAULT_TOLERANCE_SECONDS})"
            ),
            required: false,
            secret: false,
        })
    }

    /// Declares a further `provider_config` field.
    pub fn field(mut self, field: ConfigField) -> Self {
        self.config.push(field);
        self
    }

    /// Declares a request header that carries a credential (masked in stored events).
    pub fn credential_header(mut self, name: &str) -> Self {
        self.credential_headers.push(name.to_ascii_lowercase());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_case_insensitive() {
        let r = Request::post("")
            .with_header("X-Hub-Signature-256", "sig")
            .with_header("X-Dup", "1")
            .with_header("x-dup", "2");
        assert_eq!(r.header("x-hub-signature-256"), Some("sig"));
        assert_eq!(r.header("X-HUB-SIGNATURE-256"), Some("sig"));
        assert_eq!(r.header("x-dup"), Some("1"));
        assert_eq!(r.header("missing"), None);
    }

    #[test]
    fn urls_split_into_path_and_query() {
        let r = Request::get("a=1&b=x%20y");
        assert_eq!(r.url, "https://inlet.example/ingest/test?a=1&b=x%20y");
        assert_eq!(
            (r.path.as_str(), r.query.as_str()),
            ("/ingest/test", "a=1&b=x%20y")
        );
        assert_eq!(r.query_param("b").as_deref(), Some("x y"));
        let r = Request::post("").at("http://h:8080");
        assert_eq!((r.path.as_str(), r.query.as_str()), ("/", ""));
        let r = Request::post("a=1&b=%2B").at("http://h/x?");
        assert_eq!((r.path.as_str(), r.query.as_str()), ("/x", ""));
        assert_eq!(
            r.form(),
            [("a".into(), "1".into()), ("b".into(), "+".into())]
        );
    }

    #[test]
    fn json_values_read_the_body_once() {
        let r = Request::post(r#"{"type":"a.b","id":7,"ok":true,"event":{"id":"e1"},"o":{}}"#);
        let [kind, id, ok, nested, object, missing] =
            r.json_values(["/type", "/id", "/ok", "/event/id", "/o", "/nope"]);
        assert_eq!((kind.as_deref(), id.as_deref()), (Some("a.b"), Some("7")));
        assert_eq!(
            (ok.as_deref(), nested.as_deref()),
            (Some("true"), Some("e1"))
        );
        assert_eq!((object, missing), (None, None));
        let long = format!(r#"{{"type":"{}"}}"#, "x".repeat(MAX_EVENT_FIELD_LEN + 1));
        assert_eq!(Request::post(long).json_values(["/type"]), [None]);
        assert_eq!(Request::post("not json").json_values(["/type"]), [None]);
    }

    #[test]
    fn config_lookups_and_tolerance() {
        let c = Config {
            secrets: vec!["".into(), "new".into(), "old".into()],
            fields: vec![("a".into(), "".into()), ("b".into(), "2".into())],
            state: vec![("k".into(), "v".into())],
        };
        assert_eq!(c.secret(), Some("new"));
        assert_eq!(c.secrets().collect::<Vec<_>>(), ["new", "old"]);
        assert_eq!(
            (c.get("a"), c.get("b"), c.get("c")),
            (None, Some("2"), None)
        );
        assert_eq!((c.state("k"), c.state("x")), (Some("v"), None));
        assert_eq!(c.tolerance_seconds(), DEFAULT_TOLERANCE_SECONDS);
        let c = Config::with_secret("s").with_field("tolerance_seconds", "10");
        assert_eq!(c.tolerance_seconds(), 10);
        let r = Request::post("").received(1000);
        assert!(r.is_fresh(990, &c) && r.is_fresh(1010, &c));
        assert!(!r.is_fresh(989, &c) && !r.is_fresh(1011, &c));
        assert!(!r.is_fresh(i64::MIN, &c) && !r.is_fresh(i64::MAX, &c));
    }

    #[test]
    fn a_signature_by_any_active_secret_matches() {
        use crate::crypto::{HashAlgorithm, hmac_sha256};
        let c = Config {
            secrets: vec!["new".into(), "old".into()],
            ..Config::default()
        };
        for secret in ["new", "old"] {
            let signature = hmac_sha256(secret.as_bytes(), b"m");
            assert!(c.signed_by_any_secret(HashAlgorithm::Sha256, b"m", &signature));
            assert!(!c.signed_by_any_secret(HashAlgorithm::Sha256, b"n", &signature));
            assert!(!c.signed_by_any_secret(HashAlgorithm::Sha1, b"m", &signature));
        }
        let retired = hmac_sha256(b"retired", b"m");
        assert!(!c.signed_by_any_secret(HashAlgorithm::Sha256, b"m", &retired));
        assert!(!Config::default().signed_by_any_secret(HashAlgorithm::Sha256, b"m", &retired));
    }

    #[test]
    fn verdict_builders() {
        assert_eq!(
            Verdict::accept()
                .with_event_type("push")
                .with_idempotency_key(Some("d1")),
            Verdict::Accept {
                event_type: Some("push".into()),
                idempotency_key: Some("d1".into())
            }
        );
        assert_eq!(Verdict::accept().with_event_type(None), Verdict::accept());
        assert_eq!(
            Verdict::reject("no").with_event_type("x"),
            Verdict::Reject("no".into())
        );
        assert!(!Verdict::reject("no").is_accept());
        assert_eq!(
            Verdict::misconfigured("secret"),
            Verdict::reject("plugin misconfigured: secret is required")
        );
        assert_eq!(
            Verdict::respond_json(200, "{}")
                .with_header("X-Hook-Secret", "s")
                .keeping(&[("secret", "s")]),
            Verdict::Respond {
                status: 200,
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("x-hook-secret".into(), "s".into())
                ],
                body: b"{}".to_vec(),
                state: Some(vec![("secret".into(), "s".into())]),
            }
        );
    }

    #[test]
    fn plugin_info_builders() {
        let info = PluginInfo::new("x", "1", "d")
            .secret()
            .tolerance()
            .credential_header("X-Token");
        assert_eq!(info.config.len(), 2);
        assert!(info.config[0].required && info.config[0].secret);
        assert_eq!(info.config[1].name, "tolerance_seconds");
        assert!(!info.config[1].required);
        assert_eq!(info.credential_headers, ["x-token"]);
    }
}
