//! Plain Rust mirrors of the WIT types, independent of the generated bindings.

/// A request as Inlet received it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Lower-case names; a repeated header appears once per value.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Receive time in Unix seconds: the plugin's only clock.
    pub received_at: i64,
}

impl Request {
    /// A `POST` with a body, for tests.
    pub fn post(body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: "POST".into(),
            body: body.into(),
            ..Self::default()
        }
    }

    /// A `GET` with a raw query string (without `?`), for tests.
    pub fn get(query: &str) -> Self {
        Self {
            method: "GET".into(),
            query: query.into(),
            ..Self::default()
        }
    }

    /// Adds a header, for tests.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_string()));
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
}

/// The source's plugin configuration: `secret` (Convoy's `verifier.hmac.secret`) and the
/// source's `provider_config` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config(pub Vec<(String, String)>);

impl Config {
    /// The value of a configuration entry; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The `secret` entry: the source's `verifier.hmac.secret`.
    pub fn secret(&self) -> Option<&str> {
        self.get("secret")
    }

    /// Every active secret (rotation): `verifier.hmac.secret`, then each of
    /// `verifier.hmac.secrets`. A signature made with any of them is genuine.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|(n, v)| n == "secret" && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// A configuration holding just a secret, for tests.
    pub fn with_secret(secret: &str) -> Self {
        Self(vec![("secret".into(), secret.into())])
    }
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
    /// Answer it directly and store nothing (handshakes).
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
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
        Verdict::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
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
    /// Masked in API responses.
    pub secret: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginInfo {
    /// What a source's `provider` field selects the plugin by.
    pub name: String,
    pub version: String,
    pub description: String,
    pub config: Vec<ConfigField>,
}

impl PluginInfo {
    /// A plugin with no configuration; add it with [`secret`](Self::secret) and
    /// [`field`](Self::field).
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            config: Vec::new(),
        }
    }

    /// Declares the required `secret` (the source's `verifier.hmac.secret`).
    pub fn secret(self) -> Self {
        self.field(ConfigField {
            name: "secret".into(),
            description: "the webhook signing secret, from verifier.hmac.secret".into(),
            required: true,
            secret: true,
        })
    }

    /// Declares a further `provider_config` field.
    pub fn field(mut self, field: ConfigField) -> Self {
        self.config.push(field);
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
    fn query_parameters_are_decoded() {
        let r =
            Request::get("a=1&crc_token=x%2By+z&b&pct=%&bad=%zz&sign=%+1&end=%4&utf=%E2%9C%93&a=2");
        assert_eq!(r.query_param("crc_token").as_deref(), Some("x+y z"));
        assert_eq!(r.query_param("a").as_deref(), Some("1"));
        assert_eq!(r.query_param("b").as_deref(), Some(""));
        assert_eq!(r.query_param("pct").as_deref(), Some("%"));
        assert_eq!(r.query_param("bad").as_deref(), Some("%zz"));
        assert_eq!(r.query_param("sign").as_deref(), Some("% 1"));
        assert_eq!(r.query_param("end").as_deref(), Some("%4"));
        assert_eq!(r.query_param("utf").as_deref(), Some("\u{2713}"));
        assert_eq!(r.query_param("c"), None);
        assert_eq!(Request::get("").query_param("a"), None);
        assert_eq!(Request::get("%61=x").query_param("a").as_deref(), Some("x"));
    }

    #[test]
    fn config_lookups() {
        let c = Config(vec![
            ("secret".into(), "s".into()),
            ("empty".into(), String::new()),
        ]);
        assert_eq!(c.secret(), Some("s"));
        assert_eq!(c.get("empty"), None);
        assert_eq!(c.get("nope"), None);
        assert_eq!(Config::default().secret(), None);
        let rotating = Config(vec![
            ("secret".into(), "old".into()),
            ("other".into(), "x".into()),
            ("secret".into(), "new".into()),
        ]);
        assert_eq!(rotating.secrets().collect::<Vec<_>>(), ["old", "new"]);
        assert_eq!(Config::with_secret("k").secret(), Some("k"));
    }

    #[test]
    fn verdict_builders() {
        let v = Verdict::accept()
            .with_event_type("push")
            .with_idempotency_key(None);
        assert_eq!(
            v,
            Verdict::Accept {
                event_type: Some("push".into()),
                idempotency_key: None
            }
        );
        assert_eq!(
            Verdict::reject("no").with_event_type("x"),
            Verdict::Reject("no".into())
        );
        assert!(!Verdict::reject("no").is_accept());
        assert_eq!(
            Verdict::misconfigured("secret"),
            Verdict::reject("plugin misconfigured: secret is required")
        );
        let Verdict::Respond {
            status,
            headers,
            body,
        } = Verdict::respond_json(200, "{}")
        else {
            panic!("expected a response");
        };
        assert_eq!((status, body.as_slice()), (200, b"{}".as_slice()));
        assert_eq!(
            headers,
            [("content-type".to_string(), "application/json".to_string())]
        );
    }

    #[test]
    fn plugin_info_builders() {
        let info = PluginInfo::new("x", "1", "d").secret().field(ConfigField {
            name: "tolerance".into(),
            ..ConfigField::default()
        });
        assert_eq!(info.config.len(), 2);
        assert!(info.config[0].required && info.config[0].secret);
        assert_eq!(info.config[1].name, "tolerance");
    }
}
