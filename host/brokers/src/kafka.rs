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
use inlet_model::BrokerMetadata;
use inlet_model::outbound::{AllowList, Destination};
use inlet_model::pub_sub::{KafkaConfig, kafka_broker_address, kafka_security};
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message as _};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

use super::message::{Message, text};
use super::status::Status;
use super::{Backoff, Worker};

/// How long a worker waits for the cluster's metadata before it tries again.
const METADATA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Most messages, and bytes, stored in one write.
const MAX_CHUNK_MESSAGES: usize = 1000;
const MAX_CHUNK_BYTES: usize = 4 * 1024 * 1024;

/// librdkafka's settings for a source's consumer.
fn client_config(kafka: &KafkaConfig) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", kafka.brokers.join(","))
        .set("group.id", &kafka.consumer_group_id)
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
    for (key, value) in kafka_security(kafka.tls, kafka.auth.as_ref()) {
        config.set(key, value);
    }
    config
}

/// Reports librdkafka's errors and group assignments to the source's status.
struct Context {
    status: Arc<Status>,
}

impl ClientContext for Context {
    /// Shows librdkafka's description of the error code, and the broker when the reason
    /// names one (`host:port/id: …`); never the reason's text, which may carry what a broker
    /// answered. That goes to the log, at debug.
    fn error(&self, error: KafkaError, reason: &str) {
        let mut summary = match error.rdkafka_error_code() {
            Some(code) => format!("Kafka: {code}"),
            None => error.to_string(),
        };
        let broker = reason
            .split_once('/')
            .and_then(|(broker, _)| Destination::of_host_port(broker));
        if let Some(Destination { host, port }) = broker {
            summary.push_str(&format!(" (broker {host}:{port})"));
        }
        self.status.log_detail(&summary, reason);
        self.status.failing(&summary);
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
pub(super) async fn run(config: KafkaConfig, allow: AllowList, worker: Worker) {
    let mut backoff = Backoff::new();
    let consumer = loop {
        // Reading the cluster's metadata may take its whole timeout: a stop does not wait.
        let joined = tokio::select! {
            _ = worker.stop.cancelled() => return,
            joined = join(&config, &allow, &worker) => joined,
        };
        match joined {
            Joined::Consumer(consumer) => break consumer,
            Joined::Refused(reason) => return worker.status.refused(&reason),
            Joined::Failed(error) => {
                worker.status.failing(&error);
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

enum Joined {
    Consumer(KafkaConsumer),
    /// The cluster names a broker the operator does not allow.
    Refused(String),
    Failed(String),
}

/// Creates the consumer and subscribes it once the cluster's brokers are known to be
/// allowed: librdkafka connects to every broker the cluster's metadata advertises, not only
/// to the bootstrap servers checked when the source was written, and it connects to them
/// only once it consumes.
async fn join(config: &KafkaConfig, allow: &AllowList, worker: &Worker) -> Joined {
    let context = Context {
        status: worker.status.clone(),
    };
    let consumer = match client_config(config).create_with_context::<_, KafkaConsumer>(context) {
        Ok(consumer) => consumer,
        Err(e) => return Joined::Failed(format!("cannot create the Kafka consumer: {e}")),
    };
    // Blocking (and so is dropping a consumer): off the async threads.
    let fetched = tokio::task::spawn_blocking(move || {
        match consumer.fetch_metadata(None, METADATA_TIMEOUT) {
            Ok(metadata) => Ok((advertised(&metadata), consumer)),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
    .map_err(|e| e.to_string())
    .flatten();
    let (brokers, consumer) = match fetched {
        Ok(fetched) => fetched,
        Err(e) => return Joined::Failed(format!("cannot read the cluster's brokers: {e}")),
    };
    if let Some(outside) = brokers.iter().find(|broker| !broker_allowed(broker, allow)) {
        return Joined::Refused(format!(
            "the Kafka cluster advertises the broker {outside}, which {} does not allow",
            inlet_model::outbound::ALLOW_OUTBOUND_FLAG
        ));
    }
    match consumer.subscribe(&[&config.topic_name]) {
        Ok(()) => Joined::Consumer(consumer),
        Err(e) => Joined::Failed(format!("cannot subscribe to the topic: {e}")),
    }
}

/// The brokers of a metadata answer.
fn advertised(metadata: &rdkafka::metadata::Metadata) -> Vec<String> {
    metadata
        .brokers()
        .iter()
        .map(|broker| kafka_broker_address(broker.host(), broker.port()))
        .collect()
}

fn broker_allowed(broker: &str, allow: &AllowList) -> bool {
    Destination::of_host_port(broker).is_some_and(|destination| allow.allows(&destination))
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

    #[test]
    fn every_advertised_broker_must_be_allowed() {
        let allow = AllowList::parse(["kafka-1.internal:9092", "[::1]:9093"]).unwrap();
        assert!(broker_allowed("kafka-1.internal:9092", &allow));
        assert!(broker_allowed("[::1]:9093", &allow));
        for outside in [
            "kafka-2.internal:9092",
            "kafka-1.internal:9094",
            "[::1]:9092",
            "x",
        ] {
            assert!(!broker_allowed(outside, &allow), "{outside}");
        }
    }

    #[test]
    fn auth_becomes_sasl_over_tls_and_tls_alone_becomes_ssl() {
        let mut kafka: KafkaConfig = serde_json::from_value(serde_json::json!({
            "brokers": ["kafka-1:9092"],
            "consumer_group_id": "g",
            "topic_name": "orders",
            "auth": {"type": "scram", "hash": "SHA512", "tls": true, "username": "u", "password": "p"}
        }))
        .unwrap();
        let client = client_config(&kafka);
        assert_eq!(client.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(client.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(client.get("sasl.password"), Some("p"));
        assert_eq!(client.get("enable.auto.offset.store"), Some("false"));
        kafka.auth = None;
        assert_eq!(
            client_config(&kafka).get("security.protocol"),
            Some("plaintext")
        );
        kafka.tls = true;
        let client = client_config(&kafka);
        assert_eq!(client.get("security.protocol"), Some("ssl"));
        assert_eq!(client.get("sasl.mechanism"), None);
    }
}
