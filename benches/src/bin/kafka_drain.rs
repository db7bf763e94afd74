//! Kafka drain: how fast Inlet moves messages from a topic into its store, next to a plain
//! rdkafka consumer that only consumes and commits the same messages, in the same run.
//!
//! cargo run --release -p inlet-bench --bin kafka_drain -- [MESSAGES] [BYTES] [PARTITIONS] [WORKERS]
//!
//! The broker is librdkafka's mock cluster in this process (real Kafka protocol over
//! loopback TCP), or the broker at `KAFKA_BROKERS` (host:port) when that is set. The mock
//! keeps at most 5 MiB per partition, hence 32 partitions by default for 100,000 messages
//! of 1 KiB.
//!
//! Both consumers are timed from their first message to their last one (Inlet: stored with
//! its WAL synced; plain: consumed and its offset stored), so the group join, the same for
//! both, is not counted. CPU per message is the process's CPU time (every thread, the
//! mock's too) over each consumer's whole run, divided by the messages: steadier than the
//! rates on a machine whose two cores are shared by everything.
//!
//! Two bounds follow: the floor, RocksDB alone storing the bodies, and the ceiling, the
//! rate at which the machine's cores could do both the plain consumer's work and the
//! floor's, which Inlet must both do (and more: parse, index, receipts). The ceiling holds
//! with the mock (its CPU is counted) or a broker on another host, not with a broker in
//! another process on this machine, whose CPU it leaves out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use inlet_bench::{allow_loopback, numeric_args, start_inlet};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use serde_json::json;

#[tokio::main]
async fn main() {
    let [messages, bytes, partitions, workers] = numeric_args([100_000, 1024, 32, 4]);
    let partitions = partitions as i32;

    let topic = format!("bench-{}", std::process::id());
    let mock;
    let brokers = match std::env::var("KAFKA_BROKERS") {
        Ok(brokers) => {
            create_topic(&brokers, &topic, partitions).await;
            brokers
        }
        Err(_) => {
            mock = MockCluster::new(1).unwrap();
            mock.create_topic(&topic, partitions, 1).unwrap();
            mock.bootstrap_servers()
        }
    };
    println!("broker: {brokers}");
    let started = Instant::now();
    let body = produce(&brokers, &topic, messages, bytes, partitions);
    println!(
        "{messages} messages of {body} bytes in {partitions} partitions, produced in {:.1} s; \
         Inlet with {workers} workers",
        started.elapsed().as_secs_f64()
    );

    let cpu = cpu_time();
    let plain = plain_consumer(&brokers, &topic, messages).await;
    let plain_cpu = per_message(cpu_time() - cpu, messages);
    println!(
        "plain rdkafka consumer (consume + commit): {plain:>9.0} msg/s, {plain_cpu:5.1} µs CPU/msg"
    );

    let bench = start_inlet(allow_loopback).await;
    let cpu = cpu_time();
    let source = bench
        .pub_sub_source(json!({"type": "kafka", "workers": workers, "kafka": {
            "brokers": [brokers], "consumer_group_id": "inlet", "topic_name": topic}}))
        .await;
    let inlet = bench.drain_rate(&source, messages).await;
    let inlet_cpu = per_message(cpu_time() - cpu, messages);
    println!(
        "inlet kafka source (store, then commit):   {inlet:>9.0} msg/s, {inlet_cpu:5.1} µs CPU/msg"
    );
    println!("ratio inlet / plain: {:.2}", inlet / plain);
    bench.server.shutdown().await.unwrap();

    let cpu = cpu_time();
    let floor = rocksdb_floor(messages, body);
    let floor_cpu = per_message(cpu_time() - cpu, messages);
    println!(
        "RocksDB alone, the floor (body put once, synced per {FLOOR_BATCH}): {floor:>9.0} msg/s, \
         {floor_cpu:5.1} µs CPU/msg, ratio {:.2}",
        floor / plain
    );
    // Inlet does at least the plain consumer's work and the floor's on the same cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ceiling = cores as f64 * 1e6 / (plain_cpu + floor_cpu);
    println!(
        "ceiling on {cores} cores (plain + floor CPU per message): {ceiling:>9.0} msg/s, \
         ratio {:.2}",
        ceiling / plain
    );
}

/// CPU time used so far by this process, every thread (the mock broker's included).
fn cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn per_message(cpu: Duration, messages: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / messages as f64
}

/// Puts per synced batch in [`rocksdb_floor`]: Inlet's Kafka chunks hold up to 1,000.
const FLOOR_BATCH: usize = 1000;

/// The least storing these messages durably costs on this machine: RocksDB alone, opened
/// with Inlet's compression, each body put once under a 52-byte key (Inlet's event key),
/// one thread, the WAL synced per batch. No parsing, no indexes, no receipts: Inlet cannot
/// beat it.
fn rocksdb_floor(messages: usize, bytes: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    options.set_compression_type(rocksdb::DBCompressionType::Lz4);
    let db = rocksdb::DB::open(&options, dir.path()).unwrap();
    let mut sync = rocksdb::WriteOptions::default();
    sync.set_sync(true);
    let body = vec![b'x'; bytes];
    let started = Instant::now();
    for first in (0..messages).step_by(FLOOR_BATCH) {
        let mut batch = rocksdb::WriteBatch::default();
        for n in first..(first + FLOOR_BATCH).min(messages) {
            batch.put(format!("{n:052}"), &body);
        }
        db.write_opt(batch, &sync).unwrap();
    }
    messages as f64 / started.elapsed().as_secs_f64()
}

/// Creates the topic on an external broker.
async fn create_topic(brokers: &str, topic: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for result in admin
        .create_topics(&[new], &AdminOptions::new())
        .await
        .unwrap()
    {
        result.unwrap();
    }
}

/// Produces Convoy event bodies of about `bytes` bytes; returns the body size.
fn produce(brokers: &str, topic: &str, messages: usize, bytes: usize, partitions: i32) -> usize {
    let producer: ThreadedProducer<Delivery> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("queue.buffering.max.messages", "200000")
        .create_with_context(Delivery::default())
        .unwrap();
    let pad = "x".repeat(bytes.saturating_sub(100));
    let mut size = 0;
    for n in 0..messages {
        let body =
            json!({"endpoint_id": "e1", "event_type": "bench", "data": {"n": n, "pad": pad}})
                .to_string();
        size = body.len();
        let partition = (n % partitions as usize) as i32;
        let mut record = BaseRecord::<(), _>::to(topic)
            .partition(partition)
            .payload(&body);
        while let Err((_, back)) = producer.send(record) {
            record = back;
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    let failed = producer.context().failed.load(Ordering::Relaxed);
    assert_eq!(
        failed, 0,
        "{failed} messages were not delivered to the broker"
    );
    size
}

/// Counts messages the broker did not take.
#[derive(Default)]
struct Delivery {
    failed: AtomicUsize,
}

impl ClientContext for Delivery {}

impl ProducerContext for Delivery {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result
            && self.failed.fetch_add(1, Ordering::Relaxed) == 0
        {
            eprintln!("delivery failed: {e}");
        }
    }
}

/// Consumes every message, storing each offset for commit, and commits at the end, as
/// Inlet's consumer does; returns messages per second from the first message.
async fn plain_consumer(brokers: &str, topic: &str, messages: usize) -> f64 {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "plain")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[topic]).unwrap();
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
