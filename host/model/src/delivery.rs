//! Delivery to the user's endpoints, as kept: endpoints and their secrets, subscriptions and
//! their filters, a project's retry strategy and signature settings, deliveries and their
//! attempts. In Convoy's JSON field names (see `docs/DELIVERY.md` for where Inlet differs).
//! Evaluating filters is `inlet-route`'s; sending, `inlet-delivery`'s.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::pub_sub::{KafkaAuth, KafkaAuthType};
use crate::{FieldError, Secret};

/// A project's delivery settings: Convoy's project `config` (the parts Inlet honours).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectConfig {
    /// How failed deliveries are retried, unless their subscription says otherwise.
    #[serde(default)]
    pub strategy: RetryStrategy,
    #[serde(default)]
    pub signature: SignatureConfig,
    /// An endpoint one of whose deliveries fails for good (no retry left) becomes
    /// `inactive` (Convoy's `disable_endpoint`).
    #[serde(default)]
    pub disable_endpoint: bool,
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    /// How long events, their deliveries and attempts are kept; absent: for ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_policy: Option<RetentionPolicy>,
    /// Where Inlet sends the project's meta events (endpoints disabled, circuits opened,
    /// deliveries failed for good).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_event: Option<MetaEventConfig>,
}

/// When an endpoint's circuit opens and how long it stays open (Convoy's names; its
/// percentage thresholds and sampling are not used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CircuitBreakerConfig {
    /// Failed attempts in a row that open the circuit.
    pub consecutive_failure_threshold: u64,
    /// Seconds an open circuit waits before one probe attempt; its success closes it.
    pub error_timeout: u64,
    /// Minutes over which an endpoint's success and failure counts (and failure rate) run.
    pub observability_window: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failure_threshold: 10,
            error_timeout: 30,
            observability_window: 5,
        }
    }
}

/// Most of each circuit breaker setting.
pub const MAX_FAILURE_THRESHOLD: u64 = 10_000;
pub const MAX_ERROR_TIMEOUT_SECONDS: u64 = 86_400;
pub const MAX_OBSERVABILITY_WINDOW_MINUTES: u64 = 1_440;

impl CircuitBreakerConfig {
    /// Checks the bounds; errors name `config.circuit_breaker.<field>`.
    pub fn validate(&self) -> Result<(), FieldError> {
        let bounded = |name: &str, value: u64, max: u64, unit: &str| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(FieldError::new(
                    format!("config.circuit_breaker.{name}"),
                    format!("must be from 1 to {max}{unit}"),
                ))
            }
        };
        bounded(
            "consecutive_failure_threshold",
            self.consecutive_failure_threshold,
            MAX_FAILURE_THRESHOLD,
            "",
        )?;
        bounded(
            "error_timeout",
            self.error_timeout,
            MAX_ERROR_TIMEOUT_SECONDS,
            " seconds",
        )?;
        bounded(
            "observability_window",
            self.observability_window,
            MAX_OBSERVABILITY_WINDOW_MINUTES,
            " minutes",
        )
    }
}

/// An endpoint's circuit, in Convoy's `cb_state` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CircuitState {
    /// Deliveries go out.
    #[default]
    Closed,
    /// Too many failures in a row: deliveries wait until `error_timeout` has passed.
    Open,
    /// One probe attempt is out; its success closes the circuit, its failure opens it again.
    HalfOpen,
}

impl CircuitState {
    pub const ALL: [Self; 3] = [Self::Closed, Self::Open, Self::HalfOpen];

    /// Its `cb_state` name, which is also its metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        }
    }
}

/// How an endpoint has been answering, as the delivery worker keeps it (stored with each
/// attempt's outcome, so it survives a restart).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointHealth {
    pub cb_state: CircuitState,
    /// Failed attempts since the last success.
    pub consecutive_failures: u64,
    /// When the circuit last opened (ms since the epoch).
    #[serde(default)]
    pub opened_at_ms: u64,
    /// Start of the current observability window (ms since the epoch), and its counts.
    pub window_start_ms: u64,
    pub success_count: u64,
    pub failure_count: u64,
}

impl EndpointHealth {
    /// Failures per attempt in the current window; `None` before its first attempt.
    pub fn failure_rate(&self) -> Option<f64> {
        let attempts = self.success_count + self.failure_count;
        (attempts > 0).then(|| self.failure_count as f64 / attempts as f64)
    }
}

/// Convoy's `{"policy": "720h"}`: a duration in Go's syntax (`"72h"`, `"1h30m"`, `"90s"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    pub policy: String,
}

/// The shortest retention: shorter ones would race the deliveries they keep.
pub const MIN_RETENTION: Duration = Duration::from_secs(1);

impl RetentionPolicy {
    /// How long records are kept; errors name `config.retention_policy.policy`.
    pub fn duration(&self) -> Result<Duration, FieldError> {
        let invalid = |why: String| FieldError::new("config.retention_policy.policy", why);
        let kept = crate::parse_go_duration(&self.policy)
            .map(Duration::from_secs)
            .ok_or_else(|| {
                invalid(format!(
                    "{:?} is not a duration such as \"720h\" or \"1h30m\"",
                    self.policy
                ))
            })?;
        if kept < MIN_RETENTION {
            return Err(invalid(format!(
                "must be at least {} s",
                MIN_RETENTION.as_secs()
            )));
        }
        Ok(kept)
    }
}

/// Convoy's `meta_event`, sent to one of the project's own endpoints rather than a URL: the
/// endpoint's signing, retries and limits apply to meta events as to any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaEventConfig {
    pub is_enabled: bool,
    pub endpoint_id: String,
    /// The meta event types sent ([`META_EVENT_TYPES`]); empty: all.
    #[serde(default)]
    pub event_type: Vec<String>,
}

/// Every meta event type.
pub const META_EVENT_TYPES: [&str; 3] = [
    "endpoint.disabled",
    "endpoint.circuit_opened",
    "eventdelivery.failed",
];

/// How the Convoy signature forms are written: the header and the hash and encoding of each
/// version (a `v<n>=` per version in the advanced form).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureConfig {
    #[serde(default = "default_signature_header")]
    pub header: String,
    #[serde(default = "default_signature_versions")]
    pub versions: Vec<SignatureVersion>,
}

impl Default for SignatureConfig {
    fn default() -> Self {
        Self {
            header: default_signature_header(),
            versions: default_signature_versions(),
        }
    }
}

fn default_signature_header() -> String {
    "X-Convoy-Signature".into()
}

fn default_signature_versions() -> Vec<SignatureVersion> {
    vec![SignatureVersion::default()]
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureVersion {
    /// `SHA256` or `SHA512`.
    #[serde(default = "default_hash")]
    pub hash: String,
    /// `hex` or `base64`.
    #[serde(default = "default_encoding")]
    pub encoding: String,
}

impl Default for SignatureVersion {
    fn default() -> Self {
        Self {
            hash: default_hash(),
            encoding: default_encoding(),
        }
    }
}

fn default_hash() -> String {
    "SHA256".into()
}

fn default_encoding() -> String {
    "hex".into()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointStatus {
    /// Receives its deliveries.
    #[default]
    Active,
    /// Receives nothing: its new deliveries are `Discarded`.
    Inactive,
    /// Its deliveries wait until it is activated again.
    Paused,
}

/// How an endpoint's requests are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureFormat {
    /// `X-Convoy-Signature` (simple or advanced, per `advanced_signatures`).
    #[default]
    Convoy,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    StandardWebhooks,
}

/// An endpoint's signing secret. Several are live during a rotation; one whose
/// `expires_at` has passed signs no more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointSecret {
    pub uid: String,
    pub value: Secret,
    #[serde(default)]
    pub expires_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A header Inlet sends with every request to the endpoint (Convoy's `api_key`
/// authentication).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointAuthentication {
    /// Always `api_key`.
    #[serde(rename = "type")]
    pub kind: String,
    pub api_key: ApiKeyAuthentication,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyAuthentication {
    pub header_name: String,
    pub header_value: Secret,
}

/// Where a project's events are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub uid: String,
    pub project_id: String,
    /// Groups endpoints: an event sent to an owner (`/events/fanout`) goes to each of them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner_id: String,
    pub url: String,
    pub name: String,
    pub secrets: Vec<EndpointSecret>,
    pub advanced_signatures: bool,
    #[serde(default)]
    pub signature_format: SignatureFormat,
    #[serde(default)]
    pub description: String,
    pub status: EndpointStatus,
    /// Seconds an attempt may take, connection included.
    pub http_timeout: u64,
    /// At most this many requests per `rate_limit_duration` seconds (0: no limit); those
    /// over it wait.
    #[serde(default)]
    pub rate_limit: u64,
    #[serde(default)]
    pub rate_limit_duration: u64,
    /// Deliveries arrive in the order their events were stored, one at a time: each waits
    /// until the one before it has succeeded or failed for good.
    #[serde(default)]
    pub ordered: bool,
    pub content_type: String,
    #[serde(default)]
    pub authentication: Option<EndpointAuthentication>,
    /// Where its deliveries go: `url` (`http`), or a Kafka topic (`kafka`).
    #[serde(rename = "type", default)]
    pub kind: EndpointType,
    /// A `kafka` endpoint's topic; none for `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kafka: Option<KafkaDestination>,
    pub created_at: String,
    pub updated_at: String,
}

/// How an endpoint receives its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointType {
    /// A signed `POST` to its `url` (Convoy's endpoints).
    #[default]
    Http,
    /// A message on a Kafka topic: the request's headers, its body as the value.
    Kafka,
}

/// A `kafka` endpoint's topic, and how Inlet connects to its cluster (as a Kafka source
/// does: `tls`, and `auth` for SASL over TLS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaDestination {
    /// Bootstrap brokers, `host:port`.
    #[serde(default)]
    pub brokers: Vec<String>,
    #[serde(default)]
    pub topic_name: String,
    /// Connect with TLS (SSL) without SASL.
    #[serde(default)]
    pub tls: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<KafkaAuth>,
    /// Where each message's key comes from: [`EVENT_ID_KEY`], or a request location
    /// (`request.body.id`, `request.header.X-Id`, `request.query.id`).
    #[serde(default = "event_id_key")]
    pub key: String,
}

/// The message key that is the event's id: each event keeps its partition across retries.
pub const EVENT_ID_KEY: &str = "event.id";

fn event_id_key() -> String {
    EVENT_ID_KEY.into()
}

/// Most bootstrap brokers a `kafka` endpoint names: each is resolved when it is written.
pub const MAX_KAFKA_BROKERS: usize = 16;

impl KafkaDestination {
    /// Checks the brokers' form, the topic name (Kafka's rules) and `auth` (SASL only over
    /// TLS); errors name `kafka.<field>`. The key's location is `inlet-payload`'s to read,
    /// and the brokers' addresses the outbound policy's to judge.
    pub fn validate(&self) -> Result<(), FieldError> {
        let field = |name, message: String| Err(FieldError::new(name, message));
        if self.brokers.is_empty() || self.brokers.len() > MAX_KAFKA_BROKERS {
            return field(
                "kafka.brokers",
                format!("1 to {MAX_KAFKA_BROKERS} brokers, each host:port"),
            );
        }
        for broker in &self.brokers {
            if crate::outbound::Destination::of_host_port(broker).is_none_or(|d| d.port == 0) {
                return field(
                    "kafka.brokers",
                    format!(
                        "{broker:?} is not host:port (for example kafka-1:9092; one broker per \
                         entry, an IPv6 address in brackets)"
                    ),
                );
            }
        }
        // Kafka's own rules (`Topic.validate`): at most 249 of these characters, not `.` or
        // `..`.
        let topic = self.topic_name.as_str();
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if topic.is_empty() || topic.len() > 249 || !topic.chars().all(legal) {
            return field(
                "kafka.topic_name",
                "required: 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-'".into(),
            );
        }
        if topic == "." || topic == ".." {
            return field("kafka.topic_name", format!("{topic:?} is not a topic name"));
        }
        if let Some(auth) = &self.auth {
            if auth.username.is_empty() || auth.password.is_empty() {
                return field(
                    "kafka.auth",
                    "username and password are required with auth".into(),
                );
            }
            if auth.kind == KafkaAuthType::Scram
                && !matches!(auth.hash.as_str(), "SHA256" | "SHA512")
            {
                return field("kafka.auth.hash", "SCRAM needs SHA256 or SHA512".into());
            }
            if !auth.tls {
                return field(
                    "kafka.auth.tls",
                    "must be true: SASL without TLS would send the credentials in the clear".into(),
                );
            }
        }
        Ok(())
    }
}

/// Which events an endpoint receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub uid: String,
    pub name: String,
    /// Always `api`.
    #[serde(rename = "type")]
    pub kind: String,
    pub project_id: String,
    /// Incoming projects: the source whose events it receives.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_id: String,
    pub endpoint_id: String,
    #[serde(default)]
    pub filter_config: FilterConfig,
    /// Overrides the project's strategy for this subscription's deliveries.
    #[serde(default)]
    pub retry_config: Option<RetryStrategy>,
    pub created_at: String,
    pub updated_at: String,
}

/// A delivery's state, in Convoy's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DeliveryStatus {
    /// Waiting for its first attempt.
    Scheduled,
    /// Being attempted (shown while an attempt is in flight; stored as the state before).
    Processing,
    /// Not sent: its endpoint is inactive (or was deleted).
    Discarded,
    /// Every attempt failed; no retry is left.
    Failure,
    /// The endpoint answered 2xx.
    Success,
    /// An attempt failed; another is scheduled.
    Retry,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] = [
        DeliveryStatus::Scheduled,
        DeliveryStatus::Processing,
        DeliveryStatus::Discarded,
        DeliveryStatus::Failure,
        DeliveryStatus::Success,
        DeliveryStatus::Retry,
    ];

    /// Whether no attempt is due any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Discarded | DeliveryStatus::Failure | DeliveryStatus::Success
        )
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| format!("{status:?}").eq_ignore_ascii_case(text))
    }
}

/// The retry schedule a delivery got when it was created (Convoy's delivery `metadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMetadata {
    pub strategy: StrategyType,
    pub interval_seconds: u64,
    pub retry_limit: u64,
    /// Attempts made.
    pub num_trials: u64,
    /// When the next attempt is due (none once final).
    #[serde(default)]
    pub next_send_time: Option<String>,
}

impl DeliveryMetadata {
    pub fn new(strategy: &RetryStrategy, now: &str) -> Self {
        Self {
            strategy: strategy.kind,
            interval_seconds: strategy.duration,
            retry_limit: strategy.retry_count,
            num_trials: 0,
            next_send_time: Some(now.to_string()),
        }
    }

    pub fn strategy(&self) -> RetryStrategy {
        RetryStrategy {
            kind: self.strategy,
            duration: self.interval_seconds,
            retry_count: self.retry_limit,
        }
    }
}

/// One event on its way to one endpoint, through one subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// With `created_at`, not in the stored value: the store key holds the uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub project_id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub subscription_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub metadata: DeliveryMetadata,
    /// Why it failed or was discarded, last attempt first.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Seconds the last attempt took.
    #[serde(default)]
    pub latency_seconds: f64,
    /// When the endpoint answered 2xx.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
}

/// One request of a delivery and what came back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub url: String,
    pub method: String,
    pub endpoint_id: String,
    pub project_id: String,
    /// The delivery's uid (Convoy's name).
    pub msg_id: String,
    /// The address connected to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip_address: String,
    /// Secrets (signatures, the authentication header) masked.
    pub request_http_header: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub response_http_header: std::collections::BTreeMap<String, String>,
    /// As Convoy: a string, `"200 OK"`; absent when nothing answered.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub http_status: String,
    /// The start of the answer's body, at most [`MAX_RESPONSE_BYTES`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub response_data: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// Whether it succeeded (as Convoy, left out when false).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub status: bool,
    pub requested_at: String,
    #[serde(default)]
    pub responded_at: Option<String>,
    /// Seconds from sending the request to its end (the answer read, or the failure).
    #[serde(default)]
    pub latency_seconds: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
}

/// Most bytes of an endpoint's answer kept with an attempt.
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024;

/// Longest `duration` a strategy may have: a day.
pub const MAX_DURATION_SECONDS: u64 = 86_400;
/// Most retries a strategy may have.
pub const MAX_RETRY_COUNT: u64 = 100;
/// The longest wait of the exponential strategy, before jitter: Convoy's default
/// `max_retry_seconds` (2 hours).
pub const MAX_BACKOFF_SECONDS: u64 = 7_200;
/// The most jitter added to an exponential wait, as in Convoy.
pub const MAX_JITTER: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyType {
    /// The same wait, `duration`, before every retry.
    Linear,
    /// `duration · 2^(n-1)` before the n-th retry, capped at [`MAX_BACKOFF_SECONDS`], plus
    /// jitter.
    Exponential,
}

/// Convoy's `{"type": "linear"|"exponential", "duration": <seconds>, "retry_count": <n>}`;
/// omitted fields take the default's values (linear, 100 s, 10 retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetryStrategy {
    #[serde(rename = "type")]
    pub kind: StrategyType,
    /// Seconds: the linear wait, or the first exponential one.
    pub duration: u64,
    /// Retries after the first attempt.
    pub retry_count: u64,
}

impl Default for RetryStrategy {
    fn default() -> Self {
        Self {
            kind: StrategyType::Linear,
            duration: 100,
            retry_count: 10,
        }
    }
}

/// A uniformly random share of the jitter range: `Jitter(0)` adds none, `Jitter(u32::MAX)`
/// nearly all of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jitter(pub u32);

impl Jitter {
    pub fn random() -> Self {
        // Without a random source the retry is merely unjittered.
        Self(getrandom::u32().unwrap_or(0))
    }
}

impl RetryStrategy {
    /// Checks the bounds; errors name `{field}.duration` or `{field}.retry_count` (`field`
    /// is where the strategy sits, e.g. `config.strategy`).
    pub fn validate(&self, field: &str) -> Result<(), FieldError> {
        if !(1..=MAX_DURATION_SECONDS).contains(&self.duration) {
            return Err(FieldError::new(
                format!("{field}.duration"),
                format!("must be from 1 to {MAX_DURATION_SECONDS} seconds"),
            ));
        }
        if self.retry_count > MAX_RETRY_COUNT {
            return Err(FieldError::new(
                format!("{field}.retry_count"),
                format!("must be at most {MAX_RETRY_COUNT}"),
            ));
        }
        Ok(())
    }

    /// After `failed_attempts` attempts that all failed (the first attempt included), how
    /// long to wait before the next one, or `None` when no retry is left (the delivery is
    /// then `Failure`). `retry_after` (see [`retry_after`]) can lengthen the strategy's
    /// wait, never shorten it: the operator's schedule is the least pacing an endpoint gets.
    pub fn next_retry(
        &self,
        failed_attempts: u32,
        retry_after: Option<Duration>,
        jitter: Jitter,
    ) -> Option<Duration> {
        let retries_done = u64::from(failed_attempts.saturating_sub(1));
        if retries_done >= self.retry_count {
            return None;
        }
        let wait = self.delay(failed_attempts, jitter);
        Some(retry_after.map_or(wait, |asked| wait.max(asked)))
    }

    /// The strategy's wait after `failed_attempts` failures. Exponential jitter is up to a
    /// tenth of the wait and at most [`MAX_JITTER`]: proportional, so that short test
    /// schedules stay short, and as Convoy's 5 s for the long waits.
    pub fn delay(&self, failed_attempts: u32, jitter: Jitter) -> Duration {
        match self.kind {
            StrategyType::Linear => Duration::from_secs(self.duration),
            StrategyType::Exponential => {
                let doublings = failed_attempts.saturating_sub(1);
                let factor = 1u64.checked_shl(doublings).unwrap_or(u64::MAX);
                let wait_ms = self
                    .duration
                    .saturating_mul(factor)
                    .min(MAX_BACKOFF_SECONDS)
                    * 1000;
                let range_ms = (wait_ms / 10).min(MAX_JITTER.as_millis() as u64);
                // range_ms < 2^13 and the share < 2^32: no overflow.
                let jitter_ms = (range_ms * u64::from(jitter.0)) >> 32;
                Duration::from_millis(wait_ms + jitter_ms)
            }
        }
    }
}

/// A subscription's `filter_config`, in Convoy's JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// The event types received; `["*"]` (the default, also for `[]` and `null`) is all.
    #[serde(default = "all_event_types", deserialize_with = "event_types_or_all")]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub filter: FilterSchema,
}

impl Default for FilterConfig {
    /// Every event: the subscription Inlet creates for an endpoint that has none.
    fn default() -> Self {
        Self {
            event_types: all_event_types(),
            filter: FilterSchema::default(),
        }
    }
}

/// The four documents of a filter (`null` or absent is empty: no condition).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSchema {
    /// `header` in `test_filter`'s schema, as Convoy names it there.
    #[serde(default, alias = "header", deserialize_with = "null_as_empty")]
    pub headers: Map<String, Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub body: Map<String, Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub query: Map<String, Value>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub path: Map<String, Value>,
}

fn all_event_types() -> Vec<String> {
    vec!["*".to_string()]
}

fn event_types_or_all<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let types = Option::<Vec<String>>::deserialize(d)?.unwrap_or_default();
    Ok(if types.is_empty() {
        all_event_types()
    } else {
        types
    })
}

/// Go clients marshal an empty map as `null`: read it as empty.
pub fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default())
}
