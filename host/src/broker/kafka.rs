//! The Kafka source: a consumer group through rdkafka (librdkafka).
//!
//! Offsets are stored in the client only after a chunk is durably written, and librdkafka
//! commits stored offsets (never fetched ones) every second, when partitions are revoked
//! in a rebalance, and when the consumer closes. A message that failed to store therefore
//! holds back its partition's commit. Each worker consumes in fetch order and writes a chunk
//! in one store job, so a partition's events are stored in offset order.

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::{FutureExt, StreamExt};
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::message::{Message, text};
use super::status::Status;
use super::{Backoff, Worker};
use crate::model::BrokerMetadata;
use crate::secret::{MASK, mask};
use crate::verify::FieldError;

/// Most messages, and bytes, stored in one write.
const MAX_CHUNK_MESSAGES: usize = 1000;
const MAX_CHUNK_BYTES: usize = 4 * 1024 * 1024;

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
    /// Connect with TLS (SASL_SSL) rather than in the clear (SASL_PLAINTEXT).
    #[serde(default)]
    pub tls: bool,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KafkaAuthType {
    Plain,
    Scram,
}

impl KafkaConfig {
    pub fn validate(&self) -> Result<(), FieldError> {
        let field = |name, message: &str| Err(FieldError::new(name, message));
        if self.brokers.is_empty() {
            return field("pub_sub.kafka.brokers", "at least one broker, as host:port");
        }
        for broker in &self.brokers {
            let valid = broker
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            if !valid {
                return field(
                    "pub_sub.kafka.brokers",
                    &format!("{broker:?} is not host:port (for example kafka-1:9092)"),
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
        }
        Ok(())
    }

    pub(super) fn mask(&mut self) {
        if let Some(auth) = &mut self.auth {
            auth.password = mask(&auth.password);
        }
    }

    pub(super) fn unmask_from(&mut self, stored: &KafkaConfig) {
        if let (Some(new), Some(old)) = (&mut self.auth, &stored.auth)
            && new.password == MASK
        {
            new.password = old.password.clone();
        }
    }

    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", self.brokers.join(","))
            .set("group.id", &self.consumer_group_id)
            .set("client.id", "inlet")
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            // Offsets are stored by the worker after the durable write, never on fetch.
            .set("enable.auto.offset.store", "false")
            // A new group starts at the beginning: nothing already in the topic is skipped.
            .set("auto.offset.reset", "earliest")
            // A topic created after the source is noticed within seconds, not minutes.
            .set("topic.metadata.refresh.interval.ms", "10000")
            // Prefetch at most 8 MiB per worker (librdkafka's default is 64 MiB, which a
            // source's 32 workers would make 2 GiB), and fetch again 10 ms after the queue
            // has room rather than 1 s: with a small queue, the default starved the workers.
            // Measured: the same drain rate as the default.
            .set("queued.max.messages.kbytes", "8192")
            .set("fetch.queue.backoff.ms", "10");
        match &self.auth {
            None => {
                config.set("security.protocol", "plaintext");
            }
            Some(auth) => {
                let mechanism = match (auth.kind, auth.hash.as_str()) {
                    (KafkaAuthType::Plain, _) => "PLAIN",
                    (KafkaAuthType::Scram, "SHA512") => "SCRAM-SHA-512",
                    (KafkaAuthType::Scram, _) => "SCRAM-SHA-256",
                };
                config
                    .set(
                        "security.protocol",
                        if auth.tls {
                            "sasl_ssl"
                        } else {
                            "sasl_plaintext"
                        },
                    )
                    .set("sasl.mechanism", mechanism)
                    .set("sasl.username", &auth.username)
                    .set("sasl.password", &auth.password);
            }
        }
        config
    }
}

/// Reports librdkafka's errors and group assignments to the source's status.
struct Context {
    status: Arc<Status>,
}

impl ClientContext for Context {
    fn error(&self, error: KafkaError, reason: &str) {
        let text = if reason.is_empty() {
            error.to_string()
        } else {
            reason.to_string()
        };
        self.status.failing(&text);
    }
}

impl ConsumerContext for Context {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(_) => self.status.running(),
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => self.status.failing(&format!("rebalance failed: {e}")),
        }
    }
}

type KafkaConsumer = StreamConsumer<Context>;

/// One worker: a member of the source's consumer group, until told to stop.
pub(super) async fn run(config: KafkaConfig, worker: Worker) {
    let mut backoff = Backoff::new();
    let consumer = loop {
        let context = Context {
            status: worker.status.clone(),
        };
        let created = config
            .client_config()
            .create_with_context::<_, KafkaConsumer>(context)
            .and_then(|c| c.subscribe(&[&config.topic_name]).map(|()| c));
        match created {
            Ok(consumer) => break consumer,
            Err(e) => {
                worker
                    .status
                    .failing(&format!("cannot create the Kafka consumer: {e}"));
                if !backoff.wait(&worker.stop).await {
                    return;
                }
            }
        }
    };
    consume(&consumer, &config.topic_name, &worker).await;
    // Commit what is stored, then leave the group; both block, so off the async threads.
    let closed = tokio::task::spawn_blocking(move || {
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            tracing::debug!(error = %e, "final Kafka commit had nothing to commit or failed");
        }
        drop(consumer);
    });
    let _ = closed.await;
}

/// Fetches chunks, stores them, and only then stores their offsets for commit.
async fn consume(consumer: &KafkaConsumer, topic: &str, worker: &Worker) {
    let mut stream = consumer.stream();
    let mut backoff = Backoff::new();
    loop {
        let first = tokio::select! {
            biased;
            _ = worker.stop.cancelled() => return,
            received = stream.next() => received.expect("Kafka streams never end"),
        };
        let mut chunk = Chunk::new(topic);
        match first {
            Ok(message) => chunk.push(&message),
            Err(e) => {
                worker.status.failing(&e.to_string());
                if !backoff.wait(&worker.stop).await {
                    return;
                }
                continue;
            }
        }
        // Take what is already fetched, without waiting: a chunk shares one write.
        while !chunk.is_full() {
            match stream.next().now_or_never().flatten() {
                Some(Ok(message)) => chunk.push(&message),
                Some(Err(e)) => {
                    worker.status.failing(&e.to_string());
                    break;
                }
                None => break,
            }
        }
        backoff.reset();
        worker.status.running();
        if !worker.store(&chunk.messages).await {
            return;
        }
        // Fails only for partitions revoked meanwhile: their new owner reads them again
        // from the last commit, and the stored offsets keep the re-read from being stored
        // twice.
        if let Err(e) = consumer.store_offsets(&chunk.next_offsets()) {
            tracing::debug!(error = %e, "offsets of revoked partitions not stored");
        }
    }
}

/// Messages of the source's one topic, fetched and not yet stored.
struct Chunk<'t> {
    topic: &'t str,
    messages: Vec<Message>,
    bytes: usize,
    /// Highest offset per partition.
    last_offsets: HashMap<i32, i64>,
}

impl<'t> Chunk<'t> {
    fn new(topic: &'t str) -> Self {
        Self {
            topic,
            // A chunk is usually full while a backlog drains; grown from empty instead, its
            // messages were copied about ten times over.
            messages: Vec::with_capacity(MAX_CHUNK_MESSAGES),
            bytes: 0,
            last_offsets: HashMap::new(),
        }
    }

    fn is_full(&self) -> bool {
        self.messages.len() >= MAX_CHUNK_MESSAGES || self.bytes >= MAX_CHUNK_BYTES
    }

    fn push(&mut self, message: &BorrowedMessage<'_>) {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        let mut metadata = BrokerMetadata {
            message_id: format!("{topic}/{partition}/{offset}"),
            topic: Some(topic.to_string()),
            partition: Some(partition),
            offset: Some(offset),
            ..Default::default()
        };
        if let Some(key) = message.key() {
            metadata.key = Some(text(key, "key", &mut metadata.base64_fields));
        }
        for header in message.headers().iter().flat_map(|h| h.iter()) {
            let value = header.value.unwrap_or_default();
            let field = format!("attributes.{}", header.key);
            let value = text(value, &field, &mut metadata.base64_fields);
            metadata.attributes.insert(header.key.to_string(), value);
        }
        let payload = message.payload().unwrap_or_default().to_vec();
        self.bytes += payload.len();
        self.last_offsets
            .entry(partition)
            .and_modify(|o| *o = (*o).max(offset))
            .or_insert(offset);
        self.messages.push(Message { payload, metadata });
    }

    /// The offsets to commit: one past the last stored message of each partition.
    fn next_offsets(&self) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for (partition, offset) in &self.last_offsets {
            // Adding to a fresh list cannot fail: each partition appears once.
            let _ = list.add_partition_offset(self.topic, *partition, Offset::Offset(offset + 1));
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> KafkaConfig {
        serde_json::from_value(serde_json::json!({
            "brokers": ["kafka-1:9092"],
            "consumer_group_id": "g",
            "topic_name": "orders",
            "auth": {"type": "scram", "hash": "SHA512", "tls": true, "username": "u", "password": "p"}
        }))
        .unwrap()
    }

    #[test]
    fn masked_password_echoed_back_keeps_the_stored_one() {
        let stored = config();
        let mut shown = stored.clone();
        shown.mask();
        assert_eq!(shown.auth.as_ref().unwrap().password, MASK);
        shown.unmask_from(&stored);
        assert_eq!(shown, stored);
    }

    #[test]
    fn auth_becomes_sasl_settings() {
        let client = config().client_config();
        assert_eq!(client.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(client.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(client.get("enable.auto.offset.store"), Some("false"));
        let mut plain = config();
        plain.auth = None;
        assert_eq!(
            plain.client_config().get("security.protocol"),
            Some("plaintext")
        );
    }

    #[test]
    fn invalid_fields_are_named() {
        let mut c = config();
        c.brokers = vec!["kafka-1".into()];
        assert_eq!(c.validate().unwrap_err().field, "pub_sub.kafka.brokers");
        let mut c = config();
        c.auth.as_mut().unwrap().hash = "MD5".into();
        assert_eq!(c.validate().unwrap_err().field, "pub_sub.kafka.auth.hash");
        assert!(config().validate().is_ok());
    }
}
