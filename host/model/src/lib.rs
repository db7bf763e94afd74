//! What Inlet keeps, in Convoy's JSON field names: projects, sources (with their verifier
//! and broker configurations), events and dead letters; ids; the [`Secret`] type; and
//! [`FieldError`], how a bad configuration names its field. Plain data and its validation:
//! no I/O, no HTTP server, no storage engine.

pub mod delivery;
mod ids;
pub mod outbound;
pub mod pub_sub;
mod secret;
pub mod verifier;

pub use ids::{new_mask_id, new_uid};
pub use secret::{
    ConfigValue, ListedSecret, REDACTED, Secret, redact, restore, settle_list, with_secrets_exposed,
};

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::pub_sub::PubSubConfig;
use crate::verifier::VerifierConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectType {
    /// Receives webhooks from third-party providers through HTTP sources.
    Incoming,
    /// The operator's own services push events through the REST API and broker sources.
    Outgoing,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Project {
    pub uid: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ProjectType,
    /// Delivery settings: retry strategy and signature.
    #[serde(default)]
    pub config: delivery::ProjectConfig,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceType {
    Http,
    PubSub,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomResponse {
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub content_type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Source {
    pub uid: String,
    pub project_id: String,
    pub mask_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: SourceType,
    #[serde(default)]
    pub provider: String,
    /// Plugin configuration beyond the secret (which is `verifier.hmac.secret`); the fields
    /// the plugin declares secret are [`ConfigValue::Secret`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provider_config: BTreeMap<String, ConfigValue>,
    pub verifier: VerifierConfig,
    #[serde(default)]
    pub idempotency_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_response: Option<CustomResponse>,
    /// Lowers the server's body limit for this source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload_bytes: Option<u64>,
    /// The broker a `pub_sub` source consumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pub_sub: Option<PubSubConfig>,
    #[serde(default)]
    pub is_disabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// How `raw` is written: as the text received, or base64 when the body is not UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawEncoding {
    #[default]
    Utf8,
    Base64,
    /// `raw` is the text of `data` and is left out: how REST and broker events are built
    /// and how the store keeps them and JSON webhooks. The store restores `raw` when it
    /// hands an event out (`put_event`, reads), so the API never shows this encoding.
    Data,
}

impl RawEncoding {
    fn is_utf8(&self) -> bool {
        *self == RawEncoding::Utf8
    }

    /// Bytes as text: themselves when they are UTF-8, else base64.
    pub fn encode(bytes: &[u8]) -> (String, RawEncoding) {
        match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_string(), RawEncoding::Utf8),
            Err(_) => (BASE64.encode(bytes), RawEncoding::Base64),
        }
    }
}

/// An accepted event, as stored and as returned by the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    /// With `created_at`, not in the stored value: the store key holds the uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub event_type: String,
    pub project_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<String>,
    /// Request headers (HTTP sources) or custom headers (REST API), by lower-case name.
    #[serde(default)]
    pub headers: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub url_query_params: String,
    #[serde(default)]
    pub url_path: String,
    #[serde(default)]
    pub idempotency_key: String,
    #[serde(default)]
    pub is_duplicate_event: bool,
    /// Made by Inlet about its own deliveries (`config.meta_event`): sent only to the
    /// endpoint it names, never routed through subscriptions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_meta_event: bool,
    /// The payload as JSON: the body itself when it is JSON, form fields as an object,
    /// `null` when the body is neither.
    pub data: Box<RawValue>,
    /// The body exactly as received.
    pub raw: String,
    #[serde(default, skip_serializing_if = "RawEncoding::is_utf8")]
    pub raw_encoding: RawEncoding,
    /// Where a broker source's message came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker: Option<Box<BrokerMetadata>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
}

/// A broker message's origin and metadata, kept on its event or dead letter.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BrokerMetadata {
    /// Unique within the source; a second delivery of the same message is not stored again
    /// (Kafka: known by its offset). Kafka: `topic/partition/offset`; SQS: the MessageId;
    /// Pub/Sub: the message_id.
    pub message_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    /// The Kafka message key, the SQS message group, the Pub/Sub ordering key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Kafka headers, SQS message attributes, Pub/Sub attributes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Fields above whose bytes were not UTF-8 and are therefore base64: `key`,
    /// `attributes.<name>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base64_fields: Vec<String>,
}

/// A broker message that could not become an event, kept so that it can be acknowledged
/// without being lost.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    /// With `created_at`, not in the stored value: the store key holds the uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub project_id: String,
    pub source_id: String,
    /// Why it was not accepted, naming the field at fault.
    pub reason: String,
    /// The message body exactly as received.
    pub raw: String,
    #[serde(default, skip_serializing_if = "RawEncoding::is_utf8")]
    pub raw_encoding: RawEncoding,
    pub broker: BrokerMetadata,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_at: String,
}

pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .expect("an RFC 3339 timestamp is always formattable")
}

/// An RFC 3339 timestamp as written by [`rfc3339`] (or given by a client).
pub fn parse_rfc3339(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339).ok()
}

/// Longest event type or idempotency key, in bytes, whoever gives it: a source's request
/// location, a provider plugin or Convoy's event body. An idempotency key is part of a
/// store key, and both are kept and returned with every event; bounded by the body size
/// alone, they could be megabytes each.
pub const MAX_EVENT_FIELD_BYTES: usize = 1024;

/// Refuses an event type or idempotency key longer than [`MAX_EVENT_FIELD_BYTES`].
pub fn check_event_field(field: &str, value: &str) -> Result<(), FieldError> {
    if value.len() > MAX_EVENT_FIELD_BYTES {
        return Err(FieldError::new(
            field,
            format!(
                "{} bytes; an event type or idempotency key has at most {MAX_EVENT_FIELD_BYTES}",
                value.len()
            ),
        ));
    }
    Ok(())
}

/// A configuration problem, naming the field at fault.
#[derive(Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Input that Inlet refuses: a stable code and a message that says what is wrong (for HTTP,
/// a 400; for a broker message, the reason of its dead letter).
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub message: String,
}

impl Invalid {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<FieldError> for Invalid {
    fn from(e: FieldError) -> Self {
        Self::new("invalid_field", e.to_string())
    }
}

/// Go's duration syntax, in whole hours, minutes and seconds: `"0"`, `"90s"`, `"1h30m"`.
pub fn parse_go_duration(text: &str) -> Option<u64> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit] {
            "h" => 3600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(factor)?)?;
        rest = &rest[unit..];
    }
    Some(total)
}
