//! A Kafka-protocol broker for the tests: librdkafka's mock cluster, in the test process,
//! serving real Kafka requests over TCP on loopback (consumer groups, offset commits,
//! rebalances), and able to take a broker down and up again.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde_json::{Value, json};

pub struct Kafka {
    pub cluster: MockCluster<'static, DefaultProducerContext>,
}

impl Kafka {
    /// One broker (id 1) with `topic` in `partitions` partitions.
    pub fn start(topic: &str, partitions: i32) -> Self {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(topic, partitions, 1).unwrap();
        Self { cluster }
    }

    pub fn brokers(&self) -> String {
        self.cluster.bootstrap_servers()
    }

    /// Produces messages (partition, key, payload), each with a header `trace-id` equal to
    /// its key, and waits until all are acknowledged. A producer per call: one kept open
    /// would leave connections that keep `broker_up` from listening on its port again.
    pub fn produce<'a>(
        &self,
        topic: &str,
        messages: impl IntoIterator<Item = (i32, &'a str, Vec<u8>)>,
    ) {
        let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .set("linger.ms", "5")
            .create()
            .unwrap();
        for (partition, key, payload) in messages {
            let mut record = BaseRecord::to(topic)
                .partition(partition)
                .key(key)
                .payload(&payload)
                .headers(OwnedHeaders::new().insert(Header {
                    key: "trace-id",
                    value: Some(key),
                }));
            loop {
                match producer.send(record) {
                    Ok(()) => break,
                    Err((_, back)) => {
                        // The local queue is full: let it drain.
                        record = back;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(30)).unwrap();
    }

    /// Rewinds `group` (which must be empty) to `offset` in every partition of `topic`: joins
    /// it, since the mock broker refuses commits from outside a group, and commits.
    pub fn rewind(&self, group: &str, topic: &str, partitions: i32, offset: i64) {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        consumer.subscribe(&[topic]).unwrap();
        // The mock broker holds this join 44 s (the group's last session timeout less 1 s).
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while consumer.assignment().unwrap().count() < partitions as usize {
            assert!(std::time::Instant::now() < deadline, "not assigned {topic}");
            let _ = consumer.poll(Duration::from_millis(100));
        }
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition_offset(topic, p, Offset::Offset(offset))
                .unwrap();
        }
        consumer.commit(&list, CommitMode::Sync).unwrap();
    }

    /// The group's committed offset of each partition of `topic` (-1 when none).
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.brokers())
            .set("group.id", group)
            .create()
            .unwrap();
        let mut list = TopicPartitionList::new();
        for p in 0..partitions {
            list.add_partition(topic, p);
        }
        let committed = consumer
            .committed_offsets(list, Duration::from_secs(5))
            .unwrap();
        (0..partitions)
            .map(
                |p| match committed.find_partition(topic, p).unwrap().offset() {
                    Offset::Offset(o) => o,
                    _ => -1,
                },
            )
            .collect()
    }
}

/// A `pub_sub` source of type kafka, in Convoy's JSON.
pub fn kafka_source(brokers: &str, topic: &str, group: &str, workers: u32) -> Value {
    json!({
        "name": "kafka",
        "type": "pub_sub",
        "pub_sub": {
            "type": "kafka",
            "workers": workers,
            "kafka": {"brokers": [brokers], "consumer_group_id": group, "topic_name": topic}
        }
    })
}

/// Convoy's event body, as a service writes it to the topic.
pub fn event_body(partition: i32, seq: u32) -> Vec<u8> {
    json!({
        "endpoint_id": "endpoint-1",
        "event_type": "order.created",
        "custom_headers": {"x-origin": "kafka-test"},
        "data": {"partition": partition, "seq": seq}
    })
    .to_string()
    .into_bytes()
}
