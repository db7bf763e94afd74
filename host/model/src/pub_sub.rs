//! A `pub_sub` source's broker configuration: Convoy's `pub_sub` object (Kafka, Amazon SQS,
//! Google Pub/Sub) and its validation. How it is consumed is `inlet-brokers`'.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::outbound::{AllowList, Destination};
use crate::{FieldError, Invalid, Secret};

/// Most workers (concurrent consumers) one source may run.
pub const MAX_WORKERS: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerType {
    Google,
    Sqs,
    Kafka,
}

/// Convoy's `pub_sub` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PubSubConfig {
    #[serde(rename = "type")]
    pub kind: BrokerType,
    /// Concurrent consumers.
    #[serde(default = "one")]
    pub workers: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sqs: Option<SqsConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google: Option<GoogleConfig>,
}

fn one() -> u32 {
    1
}

/// The configuration of the broker a source consumes, once validated.
pub enum Broker<'a> {
    Kafka(&'a KafkaConfig),
    Sqs(&'a SqsConfig),
    Google(&'a GoogleConfig),
}

impl PubSubConfig {
    /// Validates the configuration and checks every destination it connects to against the
    /// operator's allow-list. The public endpoints Inlet derives itself need no allowing:
    /// AWS SQS's regional endpoint (from `default_region`) and Google's Pub/Sub endpoint.
    /// Everything a caller points Inlet at does: an SQS `endpoint` or queue URL, a Pub/Sub
    /// `endpoint`, every Kafka bootstrap broker. Returns the broker to consume.
    pub fn allowed_broker(&self, allowed: &AllowList) -> Result<Broker<'_>, Invalid> {
        let mut custom: Vec<(&str, &str, Option<Destination>)> = Vec::new();
        let broker = self.broker()?;
        match &broker {
            Broker::Kafka(kafka) => {
                for broker in &kafka.brokers {
                    let destination = Destination::of_host_port(broker);
                    custom.push(("pub_sub.kafka.brokers", broker, destination));
                }
            }
            Broker::Sqs(sqs) => {
                if let Some(endpoint) = &sqs.endpoint {
                    let destination = Destination::of_url(endpoint);
                    custom.push(("pub_sub.sqs.endpoint", endpoint, destination));
                }
                if is_url(&sqs.queue_name) {
                    let aws = format!("sqs.{}.amazonaws.com", sqs.default_region.to_lowercase());
                    let queue = Destination::of_url(&sqs.queue_name);
                    if queue.as_ref().is_none_or(|d| d.host != aws) {
                        custom.push(("pub_sub.sqs.queue_name", &sqs.queue_name, queue));
                    }
                }
            }
            Broker::Google(google) => {
                if let Some(endpoint) = &google.endpoint {
                    let destination = Destination::of_url(endpoint);
                    custom.push(("pub_sub.google.endpoint", endpoint, destination));
                }
            }
        }
        for (field, given, destination) in custom {
            // Validation has parsed every one of them; a doubt refuses.
            let destination = destination
                .ok_or_else(|| FieldError::new(field, format!("{given:?} is not a destination")))?;
            allowed.check(field, &destination)?;
        }
        Ok(broker)
    }

    /// The configuration of the broker to consume, once validated.
    pub fn broker(&self) -> Result<Broker<'_>, FieldError> {
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            return Err(FieldError::new(
                "pub_sub.workers",
                format!("must be from 1 to {MAX_WORKERS}"),
            ));
        }
        fn required<'a, T>(
            config: &'a Option<T>,
            field: &'static str,
        ) -> Result<&'a T, FieldError> {
            config
                .as_ref()
                .ok_or_else(|| FieldError::new(field, "required for this pub_sub.type"))
        }
        Ok(match self.kind {
            BrokerType::Kafka => {
                let kafka = required(&self.kafka, "pub_sub.kafka")?;
                kafka.validate()?;
                Broker::Kafka(kafka)
            }
            BrokerType::Sqs => {
                let sqs = required(&self.sqs, "pub_sub.sqs")?;
                sqs.validate()?;
                Broker::Sqs(sqs)
            }
            BrokerType::Google => {
                let google = required(&self.google, "pub_sub.google")?;
                google.validate()?;
                Broker::Google(google)
            }
        })
    }

    /// Settles the secrets of a configuration given to the API against the stored one
    /// (`None` when there is none): a redacted echo keeps the stored secret, and a
    /// redaction that no stored secret backs is refused.
    pub fn settle_secrets(&mut self, stored: Option<&Self>) -> Result<(), FieldError> {
        if let Some(auth) = self.kafka.as_mut().and_then(|k| k.auth.as_mut()) {
            let old = stored
                .and_then(|s| s.kafka.as_ref())
                .and_then(|k| k.auth.as_ref());
            auth.password
                .restore_from(old.map(|a| &a.password), "pub_sub.kafka.auth.password")?;
        }
        if let Some(sqs) = &mut self.sqs {
            let old = stored.and_then(|s| s.sqs.as_ref()).map(|s| &s.secret_key);
            sqs.secret_key.restore_from(old, "pub_sub.sqs.secret_key")?;
        }
        if let Some(google) = &mut self.google {
            let old = stored
                .and_then(|s| s.google.as_ref())
                .map(|g| &g.service_account);
            google
                .service_account
                .restore_from(old, "pub_sub.google.service_account")?;
        }
        Ok(())
    }
}

/// Whether a configured endpoint or queue is given as an http(s) URL.
pub fn is_url(text: &str) -> bool {
    text.starts_with("http://") || text.starts_with("https://")
}

/// Convoy's `pub_sub.kafka` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap brokers, `host:port`.
    #[serde(default)]
    pub brokers: Vec<String>,
    /// Defaults to `inlet-<source uid>`, so that two sources never split one topic's
    /// messages between them by accident.
    #[serde(default)]
    pub consumer_group_id: String,
    #[serde(default)]
    pub topic_name: String,
    /// Connect with TLS (SSL) without SASL; beyond Convoy, which has TLS only with `auth`.
    #[serde(default)]
    pub tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<KafkaAuth>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaAuth {
    #[serde(rename = "type")]
    pub kind: KafkaAuthType,
    /// SCRAM's hash: `SHA256` or `SHA512`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash: String,
    /// Connect with TLS (SASL_SSL). Must be true: SASL over plaintext (SASL_PLAINTEXT)
    /// would send the password, or SCRAM's exchange, in the clear, so it is refused.
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaAuthType {
    Plain,
    Scram,
}

/// librdkafka's security settings for a connection with `tls` and `auth`, for the Kafka
/// source's consumers and the Kafka endpoints' producers alike. Validation refuses SASL
/// without TLS, so SASL is always `sasl_ssl`.
pub fn kafka_security(tls: bool, auth: Option<&KafkaAuth>) -> Vec<(&'static str, String)> {
    match auth {
        None => {
            let protocol = if tls { "ssl" } else { "plaintext" };
            vec![("security.protocol", protocol.to_string())]
        }
        Some(auth) => {
            let mechanism = match (auth.kind, auth.hash.as_str()) {
                (KafkaAuthType::Plain, _) => "PLAIN",
                (KafkaAuthType::Scram, "SHA512") => "SCRAM-SHA-512",
                (KafkaAuthType::Scram, _) => "SCRAM-SHA-256",
            };
            vec![
                ("security.protocol", "sasl_ssl".to_string()),
                ("sasl.mechanism", mechanism.to_string()),
                ("sasl.username", auth.username.clone()),
                ("sasl.password", auth.password.expose().to_string()),
            ]
        }
    }
}

/// A broker's address as a cluster's metadata advertises it, as `host:port` (an IPv6 host
/// in brackets): the form the outbound policy judges.
pub fn kafka_broker_address(host: &str, port: i32) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl KafkaConfig {
    pub fn validate(&self) -> Result<(), FieldError> {
        let field = |name, message: &str| Err(FieldError::new(name, message));
        if self.brokers.is_empty() {
            return field("pub_sub.kafka.brokers", "at least one broker, as host:port");
        }
        for broker in &self.brokers {
            if Destination::of_host_port(broker).is_none() {
                return field(
                    "pub_sub.kafka.brokers",
                    &format!(
                        "{broker:?} is not host:port (for example kafka-1:9092; one broker per \
                         entry, an IPv6 address in brackets)"
                    ),
                );
            }
        }
        let topic = &self.topic_name;
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if topic.is_empty() || topic.len() > 249 || !topic.chars().all(legal) {
            return field(
                "pub_sub.kafka.topic_name",
                "required: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'",
            );
        }
        if self.consumer_group_id.trim().is_empty() {
            return field("pub_sub.kafka.consumer_group_id", "must not be blank");
        }
        if let Some(auth) = &self.auth {
            if auth.username.is_empty() || auth.password.is_empty() {
                return field(
                    "pub_sub.kafka.auth",
                    "username and password are required with auth",
                );
            }
            if auth.kind == KafkaAuthType::Scram
                && !matches!(auth.hash.as_str(), "SHA256" | "SHA512")
            {
                return field("pub_sub.kafka.auth.hash", "SCRAM needs SHA256 or SHA512");
            }
            if !auth.tls {
                return field(
                    "pub_sub.kafka.auth.tls",
                    "must be true: SASL without TLS would send the credentials in the clear",
                );
            }
        }
        Ok(())
    }
}

/// Convoy's `pub_sub.sqs` object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsConfig {
    #[serde(default)]
    pub access_key_id: String,
    #[serde(default)]
    pub secret_key: Secret,
    #[serde(default)]
    pub default_region: String,
    /// A queue name, or a full queue URL.
    #[serde(default)]
    pub queue_name: String,
    /// An SQS-compatible server instead of AWS, such as `http://localhost:4566`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl SqsConfig {
    pub fn validate(&self) -> Result<(), FieldError> {
        let field = |name, message: &str| Err(FieldError::new(name, message));
        if self.access_key_id.trim().is_empty() {
            return field("pub_sub.sqs.access_key_id", "required");
        }
        if self.secret_key.is_empty() {
            return field("pub_sub.sqs.secret_key", "required");
        }
        let region = &self.default_region;
        if region.is_empty()
            || !region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return field(
                "pub_sub.sqs.default_region",
                "required: an AWS region such as us-east-1",
            );
        }
        if is_url(&self.queue_name) {
            if Destination::of_url(&self.queue_name).is_none() {
                return field(
                    "pub_sub.sqs.queue_name",
                    "a queue URL must be http(s)://host[:port]/path, without user info",
                );
            }
        } else {
            let name = self
                .queue_name
                .strip_suffix(".fifo")
                .unwrap_or(&self.queue_name);
            let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
            if name.is_empty() || self.queue_name.len() > 80 || !name.chars().all(legal) {
                return field(
                    "pub_sub.sqs.queue_name",
                    "required: a queue URL, or a name of 1 to 80 characters of a-z, A-Z, 0-9, '-' and '_' (with .fifo for a FIFO queue)",
                );
            }
        }
        if let Some(endpoint) = &self.endpoint
            && Destination::of_url(endpoint).is_none()
        {
            return field(
                "pub_sub.sqs.endpoint",
                "must be an http:// or https:// URL without user info, such as http://localhost:4566",
            );
        }
        Ok(())
    }
}

/// Convoy's `pub_sub.google` object, plus `endpoint` for an emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub subscription_id: String,
    /// The service account's JSON key, base64-encoded (as Convoy sends it).
    #[serde(default, skip_serializing_if = "Secret::is_empty")]
    pub service_account: Secret,
    /// A Pub/Sub-compatible server instead of Google's, such as the emulator at
    /// `http://localhost:8085`; then the service account may be left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl GoogleConfig {
    pub fn validate(&self) -> Result<(), FieldError> {
        let field = |name, message: &str| Err(FieldError::new(name, message));
        let project_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':');
        if self.project_id.is_empty() || !self.project_id.chars().all(project_char) {
            return field(
                "pub_sub.google.project_id",
                "required: a Google Cloud project id such as my-project-123",
            );
        }
        let id = &self.subscription_id;
        let subscription_char =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '%');
        if !(3..=255).contains(&id.len())
            || !id.starts_with(|c: char| c.is_ascii_alphabetic())
            || !id.chars().all(subscription_char)
        {
            return field(
                "pub_sub.google.subscription_id",
                "required: 3 to 255 characters of letters, digits and - _ . ~ + %, starting with a letter",
            );
        }
        if let Some(endpoint) = &self.endpoint
            && Destination::of_url(endpoint).is_none()
        {
            return field(
                "pub_sub.google.endpoint",
                "must be an http:// or https:// URL without user info, such as http://localhost:8085",
            );
        }
        if self.service_account.is_empty() && self.endpoint.is_none() {
            return field(
                "pub_sub.google.service_account",
                "required (the service account's JSON key, base64-encoded) unless an endpoint is given",
            );
        }
        if !self.service_account.is_empty() {
            service_account_key(self.service_account.expose())
                .map_err(|message| FieldError::new("pub_sub.google.service_account", message))?;
        }
        Ok(())
    }
}

/// The JSON key in Convoy's base64 `service_account`, with the fields a key must have (its
/// private key itself is checked when first used).
pub fn service_account_key(encoded: &str) -> Result<serde_json::Value, String> {
    let key = BASE64
        .decode(encoded.trim())
        .map_err(|_| "must be the service account's JSON key, base64-encoded".to_string())?;
    let key: serde_json::Value = serde_json::from_slice(&key)
        .map_err(|_| "must decode to the service account's JSON key".to_string())?;
    if key["type"] != "service_account" {
        return Err(r#"must be a service account key ("type": "service_account")"#.into());
    }
    for field in [
        "client_email",
        "private_key_id",
        "private_key",
        "project_id",
    ] {
        if key[field].as_str().is_none_or(str::is_empty) {
            return Err(format!("the service account key has no {field}"));
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::REDACTED;

    fn kafka() -> KafkaConfig {
        serde_json::from_value(serde_json::json!({
            "brokers": ["kafka-1:9092"],
            "consumer_group_id": "g",
            "topic_name": "orders",
            "auth": {"type": "scram", "hash": "SHA512", "tls": true, "username": "u", "password": "s3cret"}
        }))
        .unwrap()
    }

    fn sqs() -> SqsConfig {
        serde_json::from_value(serde_json::json!({
            "access_key_id": "AKIA0000",
            "secret_key": "s3cret",
            "default_region": "eu-west-1",
            "queue_name": "orders.fifo",
            "endpoint": "http://localhost:4566"
        }))
        .unwrap()
    }

    fn google() -> GoogleConfig {
        GoogleConfig {
            project_id: "my-project-123".into(),
            subscription_id: "orders-inlet".into(),
            service_account: Secret::default(),
            endpoint: Some("http://localhost:8085".into()),
        }
    }

    fn encoded(key: serde_json::Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(key.to_string())
    }

    fn key() -> serde_json::Value {
        serde_json::json!({
            "type": "service_account",
            "project_id": "my-project-123",
            "private_key_id": "abc",
            "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
            "client_email": "inlet@my-project-123.iam.gserviceaccount.com",
        })
    }

    #[test]
    fn redacted_broker_secrets_echoed_back_keep_the_stored_ones() {
        let mut google = google();
        google.service_account = Secret::new(encoded(key()));
        for stored in [
            pub_sub(BrokerType::Kafka, |c| c.kafka = Some(kafka())),
            pub_sub(BrokerType::Sqs, |c| c.sqs = Some(sqs())),
            pub_sub(BrokerType::Google, |c| c.google = Some(google.clone())),
        ] {
            let shown = serde_json::to_value(&stored).unwrap();
            assert!(!shown.to_string().contains("s3cret") && shown.to_string().contains(REDACTED));
            let mut echoed: PubSubConfig = serde_json::from_value(shown).unwrap();
            echoed.settle_secrets(Some(&stored)).unwrap();
            assert_eq!(echoed, stored);
        }
    }

    fn pub_sub(kind: BrokerType, set: impl FnOnce(&mut PubSubConfig)) -> PubSubConfig {
        let mut config = PubSubConfig {
            kind,
            workers: 1,
            kafka: None,
            sqs: None,
            google: None,
        };
        set(&mut config);
        config
    }

    #[test]
    fn only_the_public_endpoints_inlet_derives_need_no_allowing() {
        let none = AllowList::default();
        let refused = |config: &PubSubConfig, allowed: &AllowList| {
            let Err(error) = config.allowed_broker(allowed) else {
                panic!("allowed");
            };
            assert_eq!(error.code, "outbound_not_allowed", "{error:?}");
            error.message.split(':').next().unwrap().to_string()
        };
        let mut aws = sqs();
        aws.endpoint = None;
        aws.queue_name = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders".into();
        let mut google_default = google();
        google_default.endpoint = None;
        google_default.service_account = Secret::new(encoded(key()));
        for public in [
            pub_sub(BrokerType::Sqs, |c| c.sqs = Some(aws.clone())),
            pub_sub(BrokerType::Google, |c| c.google = Some(google_default)),
        ] {
            assert!(public.allowed_broker(&none).is_ok());
        }

        let mut elsewhere = aws.clone();
        elsewhere.queue_name = "https://169.254.169.254/latest/meta-data".into();
        let cases = [
            (
                pub_sub(BrokerType::Sqs, |c| c.sqs = Some(sqs())),
                "pub_sub.sqs.endpoint",
            ),
            (
                pub_sub(BrokerType::Sqs, |c| c.sqs = Some(elsewhere)),
                "pub_sub.sqs.queue_name",
            ),
            (
                pub_sub(BrokerType::Google, |c| c.google = Some(google())),
                "pub_sub.google.endpoint",
            ),
            (
                pub_sub(BrokerType::Kafka, |c| c.kafka = Some(kafka())),
                "pub_sub.kafka.brokers",
            ),
        ];
        let allowed = AllowList::parse(["localhost", "kafka-1:9092"]).unwrap();
        for (config, field) in cases {
            assert_eq!(refused(&config, &none), field);
            let allowed_too = field != "pub_sub.sqs.queue_name";
            assert_eq!(
                config.allowed_broker(&allowed).is_ok(),
                allowed_too,
                "{field}"
            );
        }
        // Every bootstrap broker must be allowed, not just the first.
        let mut two = kafka();
        two.brokers.push("kafka-2:9092".into());
        let config = pub_sub(BrokerType::Kafka, |c| c.kafka = Some(two));
        assert_eq!(refused(&config, &allowed), "pub_sub.kafka.brokers");
    }

    #[test]
    fn invalid_kafka_fields_are_named() {
        for bad in ["kafka-1", "kafka-1:9092,evil:9092", "SSL://kafka-1:9093"] {
            let mut c = kafka();
            c.brokers = vec![bad.into()];
            assert_eq!(c.validate().unwrap_err().field, "pub_sub.kafka.brokers");
        }
        let mut c = kafka();
        c.auth.as_mut().unwrap().hash = "MD5".into();
        assert_eq!(c.validate().unwrap_err().field, "pub_sub.kafka.auth.hash");
        assert!(kafka().validate().is_ok());
    }

    #[test]
    fn sasl_only_over_tls_and_tls_without_sasl() {
        let mut clear = kafka();
        clear.auth.as_mut().unwrap().tls = false;
        let error = clear.validate().unwrap_err();
        assert_eq!(error.field, "pub_sub.kafka.auth.tls");
        assert!(error.message.contains("in the clear"), "{error}");
        let mut tls_only = kafka();
        tls_only.auth = None;
        tls_only.tls = true;
        assert!(tls_only.validate().is_ok());
    }

    #[test]
    fn invalid_sqs_fields_are_named() {
        assert!(sqs().validate().is_ok());
        let mut c = sqs();
        c.queue_name = "https://sqs.eu-west-1.amazonaws.com/123456789012/orders".into();
        assert!(c.validate().is_ok());
        type Break = fn(&mut SqsConfig);
        let cases: [(&str, Break); 5] = [
            ("pub_sub.sqs.access_key_id", |c| c.access_key_id.clear()),
            ("pub_sub.sqs.secret_key", |c| {
                c.secret_key = Secret::default()
            }),
            ("pub_sub.sqs.default_region", |c| {
                c.default_region = "eu west".into()
            }),
            ("pub_sub.sqs.queue_name", |c| {
                c.queue_name = "orders!".into()
            }),
            ("pub_sub.sqs.endpoint", |c| {
                c.endpoint = Some("localhost:4566".into())
            }),
        ];
        for (name, break_it) in cases {
            let mut c = sqs();
            break_it(&mut c);
            assert_eq!(c.validate().unwrap_err().field, name);
        }
    }

    #[test]
    fn a_service_account_key_is_required_without_an_endpoint_and_must_be_one() {
        assert!(google().validate().is_ok());
        let mut c = google();
        c.endpoint = None;
        c.service_account = Secret::new(encoded(key()));
        assert!(c.validate().is_ok());
        let mut no_email = key();
        no_email.as_object_mut().unwrap().remove("client_email");
        let mut user = key();
        user["type"] = "authorized_user".into();
        for bad in [
            String::new(),
            "not base64!".into(),
            encoded(serde_json::json!("a string")),
            encoded(user),
            encoded(no_email),
        ] {
            c.service_account = Secret::new(bad);
            let error = c.validate().unwrap_err();
            assert_eq!(error.field, "pub_sub.google.service_account");
            assert!(
                !error.message.contains("BEGIN PRIVATE KEY"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn invalid_google_fields_are_named() {
        type Break = fn(&mut GoogleConfig);
        let cases: [(&str, Break); 4] = [
            ("pub_sub.google.project_id", |c| c.project_id.clear()),
            ("pub_sub.google.subscription_id", |c| {
                c.subscription_id = "1orders".into()
            }),
            ("pub_sub.google.subscription_id", |c| {
                c.subscription_id = "projects/p/subscriptions/s".into()
            }),
            ("pub_sub.google.endpoint", |c| {
                c.endpoint = Some("localhost:8085".into())
            }),
        ];
        for (name, break_it) in cases {
            let mut c = google();
            break_it(&mut c);
            assert_eq!(c.validate().unwrap_err().field, name);
        }
    }
}
