//! Kafka drain: how fast Inlet moves messages from a topic into its store, next to a plain
//! rdkafka consumer that only consumes and commits the same messages, in the same run.
//!
//! cargo run --release -p inlet-bench --bin kafka_drain -- [MESSAGES] [BYTES] [PARTITIONS]
//!
//! The broker is librdkafka's mock cluster in this process (real Kafka protocol over
//! loopback TCP). Both consumers are timed from their first message to their last one
//! (Inlet: stored with its WAL synced; plain: consumed and its offset stored), so the
//! group join, the same for both, is not counted.

use std::time::{Duration, Instant};

use inlet_bench::{ADMIN, numeric_args, start_inlet};
use rdkafka::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::json;

const TOPIC: &str = "bench";

#[tokio::main]
async fn main() {
    let [messages, bytes, partitions] = numeric_args([100_000, 1024, 4]);
    let partitions = partitions as i32;

    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic(TOPIC, partitions, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let started = Instant::now();
    let body = produce(&brokers, messages, bytes, partitions);
    println!(
        "{messages} messages of {body} bytes in {partitions} partitions, produced in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let plain = plain_consumer(&brokers, messages).await;
    println!("plain rdkafka consumer (consume + commit): {plain:>9.0} msg/s");

    let bench = start_inlet(|_| {}).await;
    let project = bench
        .create(
            "/api/v1/projects",
            ADMIN,
            json!({"name": "bench", "type": "outgoing"}),
        )
        .await;
    let sources = format!(
        "/api/v1/projects/{}/sources",
        project["uid"].as_str().unwrap()
    );
    let source = bench
        .create(
            &sources,
            ADMIN,
            json!({"name": "kafka", "type": "pub_sub",
            "pub_sub": {"type": "kafka", "workers": 1, "kafka": {"brokers": [brokers],
            "consumer_group_id": "inlet", "topic_name": TOPIC}}}),
        )
        .await;
    let accepted = format!(
        "inlet_events_accepted_total{{source=\"{}\"}}",
        source["uid"].as_str().unwrap()
    );
    let mut first = None;
    loop {
        let stored = bench.metric(&accepted).await as usize;
        if stored > 0 && first.is_none() {
            first = Some((Instant::now(), stored));
        }
        if stored >= messages {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (first_at, first_count) = first.unwrap();
    let inlet = (messages - first_count) as f64 / first_at.elapsed().as_secs_f64();
    println!("inlet kafka source (store, then commit): {inlet:>9.0} msg/s");
    println!("ratio inlet / plain: {:.2}", inlet / plain);
    bench.server.shutdown().await.unwrap();
}

/// Produces Convoy event bodies of about `bytes` bytes; returns the body size.
fn produce(brokers: &str, messages: usize, bytes: usize, partitions: i32) -> usize {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "200000")
        .create()
        .unwrap();
    let pad = "x".repeat(bytes.saturating_sub(100));
    let mut size = 0;
    for n in 0..messages {
        let body =
            json!({"endpoint_id": "e1", "event_type": "bench", "data": {"n": n, "pad": pad}})
                .to_string();
        size = body.len();
        let partition = (n % partitions as usize) as i32;
        let mut record = BaseRecord::<(), _>::to(TOPIC)
            .partition(partition)
            .payload(&body);
        while let Err((_, back)) = producer.send(record) {
            record = back;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    size
}

/// Consumes every message, storing each offset for commit, and commits at the end, as
/// Inlet's consumer does; returns messages per second from the first message.
async fn plain_consumer(brokers: &str, messages: usize) -> f64 {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "plain")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[TOPIC]).unwrap();
    let first = consumer.recv().await.unwrap();
    consumer
        .store_offset(first.topic(), first.partition(), first.offset() + 1)
        .unwrap();
    drop(first);
    let started = Instant::now();
    for _ in 1..messages {
        let message = consumer.recv().await.unwrap();
        consumer
            .store_offset(message.topic(), message.partition(), message.offset() + 1)
            .unwrap();
    }
    consumer.commit_consumer_state(CommitMode::Sync).unwrap();
    (messages - 1) as f64 / started.elapsed().as_secs_f64()
}
