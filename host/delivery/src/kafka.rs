//! Deliveries to Kafka topics (`kafka` endpoints). An attempt is one message carrying what
//! an HTTP endpoint would get: the request's headers (the signature and idempotency key
//! included) as Kafka headers, the event's body byte-exact as the value, and a key from the
//! endpoint's `kafka.key`. It is produced with `enable.idempotence=true` and `acks=all`,
//! and it is a success only once the broker acknowledged it (the delivery report's `Ok`);
//! anything else is a failed attempt with librdkafka's reason, retried as any.
//!
//! Producers are kept per distinct configuration (brokers, TLS, credentials, and the
//! endpoint's timeout, which is the producer's `message.timeout.ms`): created by the first
//! attempt that needs one, dropped once unused for [`PRODUCER_IDLE`], or at once when the
//! endpoint that used it changes its configuration and no other endpoint shares it.
//!
//! # Where librdkafka may connect
//!
//! librdkafka opens its own connections and resolves names itself, so the outbound policy
//! cannot judge each connection as it does for HTTP ([`crate::connect::PolicyConnector`]).
//! What Inlet checks instead, resolving each name and judging every address it resolves
//! to (librdkafka may take any of them): the bootstrap brokers before a producer is created
//! (librdkafka connects to them at once), and every broker the cluster's metadata
//! advertises before the producer's first message and again at most every
//! [`BROKER_CHECK_INTERVAL`] before the next; a refusal fails the attempt and drops the
//! producer. What this cannot catch: a broker first advertised between two checks, or a
//! name that resolves differently for librdkafka than it did for Inlet a moment before
//! (DNS rebinding), may be connected before a check refuses it.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use inlet_model::delivery::{EVENT_ID_KEY, KafkaDestination};
use inlet_model::outbound::{ALLOW_OUTBOUND_ENV, ALLOW_OUTBOUND_FLAG, Destination};
use inlet_model::pub_sub::{kafka_broker_address, kafka_security};
use inlet_model::{Event, FieldError, Invalid};
use inlet_payload::{LazyJson, Location};
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};

use crate::connect::{CODE_NOT_ALLOWED, Policy};
use crate::send::{CONNECT_TIMEOUT, Outcome, bounded};

/// A producer no attempt used for this long is dropped, with its connections and threads.
pub const PRODUCER_IDLE: Duration = Duration::from_secs(300);
/// How often, at most, a producer's cluster is asked again which brokers it has.
pub const BROKER_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// How long past its `message.timeout.ms` an attempt waits for librdkafka's report, which
/// is due at that timeout: only a wedged client takes longer.
const REPORT_GRACE: Duration = Duration::from_secs(5);
/// The endpoint field errors about brokers name.
const BROKERS_FIELD: &str = "kafka.brokers";

/// A `kafka` endpoint's message, but for the headers and body an HTTP request would have.
#[derive(Debug, Clone)]
pub struct KafkaMessage {
    /// The endpoint sending it: when its configuration changes, its old producer goes.
    pub endpoint_id: String,
    pub destination: KafkaDestination,
    pub key: Vec<u8>,
}

/// Checks an endpoint's `kafka.key`: [`EVENT_ID_KEY`] or a request location.
pub fn validate_key(key: &str) -> Result<(), FieldError> {
    key_source(key).map(|_| ())
}

/// Where the message key comes from.
enum KeySource {
    EventId,
    Request(Location),
}

fn key_source(key: &str) -> Result<KeySource, FieldError> {
    if key == EVENT_ID_KEY {
        return Ok(KeySource::EventId);
    }
    Location::parse(key)
        .map(KeySource::Request)
        .map_err(|e| FieldError::new("kafka.key", format!("{e}, or {EVENT_ID_KEY}")))
}

/// The key of `event`'s message: its id, or the value at the key's location in the request
/// the event was made of (its headers, query and body, as the source read them). A location
/// the event has no value at fails the attempt: a message without its key would lose the
/// ordering and compaction the key is for, and changing the endpoint's key lets a retry
/// pass.
pub fn message_key(destination: &KafkaDestination, event: &Event) -> Result<Vec<u8>, FieldError> {
    let location = match key_source(&destination.key)? {
        KeySource::EventId => return Ok(event.uid.clone().into_bytes()),
        KeySource::Request(location) => location,
    };
    let mut headers = HeaderMap::new();
    if matches!(location, Location::Header(_)) {
        for (name, values) in &event.headers {
            let Ok(name) = HeaderName::from_bytes(name.as_bytes()) else {
                continue;
            };
            for value in values {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.append(name.clone(), value);
                }
            }
        }
    }
    location
        .read(
            &headers,
            &event.url_query_params,
            &LazyJson::new(&event.data),
        )
        .map(String::into_bytes)
        .ok_or_else(|| {
            FieldError::new(
                "kafka.key",
                format!("this event has no value at {}", destination.key),
            )
        })
}

/// Checks an endpoint's brokers against the policy when the endpoint is written: each is
/// resolved and every address it resolves to judged. A name that does not resolve now is
/// accepted: it is judged again before every producer is created. Errors name
/// `kafka.brokers`.
pub async fn check_brokers(destination: &KafkaDestination, policy: &Policy) -> Result<(), Invalid> {
    for broker in &destination.brokers {
        match check_broker(broker, policy).await {
            Ok(()) | Err(Unallowed::Unresolved(_)) => {}
            Err(Unallowed::Refused(why)) => {
                return Err(Invalid::new(
                    CODE_NOT_ALLOWED,
                    format!("{BROKERS_FIELD}: {why}"),
                ));
            }
        }
    }
    Ok(())
}

/// Why a broker is not connected.
enum Unallowed {
    /// The policy refuses an address it is or resolves to.
    Refused(String),
    /// It could not be judged: not `host:port`, or no address.
    Unresolved(String),
}

impl fmt::Display for Unallowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unallowed::Refused(why) => write!(f, "{CODE_NOT_ALLOWED}: {why}"),
            Unallowed::Unresolved(why) => f.write_str(why),
        }
    }
}

/// Judges a broker's `host:port`: a literal address by itself, a name the allow-list names
/// as allowed wherever it resolves, any other name by every address it resolves to.
async fn check_broker(broker: &str, policy: &Policy) -> Result<(), Unallowed> {
    let Some(Destination { host, port }) = Destination::of_host_port(broker) else {
        return Err(Unallowed::Unresolved(format!(
            "{broker:?} is not host:port"
        )));
    };
    let refused = |what: String| {
        Unallowed::Refused(format!(
            "Inlet may not connect to {broker}: {what}; the operator allows destinations with \
             {ALLOW_OUTBOUND_FLAG} (or {ALLOW_OUTBOUND_ENV})"
        ))
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return policy
            .check(SocketAddr::new(ip, port))
            .map_err(|range| refused(format!("{ip} is {range}")));
    }
    if policy.allows_name(&host, port) {
        return Ok(());
    }
    let lookup = tokio::net::lookup_host((host.as_str(), port));
    let resolved: Vec<SocketAddr> = match tokio::time::timeout(CONNECT_TIMEOUT, lookup).await {
        Ok(Ok(addresses)) => addresses.collect(),
        Ok(Err(e)) => return Err(Unallowed::Unresolved(format!("resolving {host}: {e}"))),
        Err(_) => return Err(Unallowed::Unresolved(format!("resolving {host} timed out"))),
    };
    if resolved.is_empty() {
        return Err(Unallowed::Unresolved(format!(
            "{host} resolves to no address"
        )));
    }
    let refusals: Vec<String> = resolved
        .iter()
        .filter_map(|address| {
            let range = policy.check(*address).err()?;
            Some(format!("{} ({range})", address.ip()))
        })
        .collect();
    if refusals.is_empty() {
        Ok(())
    } else {
        Err(refused(format!(
            "{host} resolves to {}, and librdkafka may connect to any of its addresses",
            refusals.join(", ")
        )))
    }
}

/// librdkafka's settings of a destination's producer, in a fixed order: also the key of
/// the producer cache.
type Settings = Vec<(&'static str, String)>;

fn settings(destination: &KafkaDestination, timeout: Duration) -> Settings {
    let mut settings = vec![
        ("bootstrap.servers", destination.brokers.join(",")),
        ("client.id", "inlet".to_string()),
        // The broker drops a resent duplicate, and a message counts as written only once
        // every in-sync replica has it.
        ("enable.idempotence", "true".to_string()),
        ("acks", "all".to_string()),
        // librdkafka reports the message failed by then, so an attempt that failed does
        // not deliver later behind its retry's back.
        ("message.timeout.ms", timeout.as_millis().to_string()),
        // Each attempt waits for its own acknowledgement, so a linger would be added to
        // every one; under load, messages queued behind the requests in flight are still
        // batched. Measured (kafka_deliver): 32 attempts in flight made 4.4 k msg/s with
        // librdkafka's default of 5 ms.
        ("linger.ms", "0".to_string()),
    ];
    settings.extend(kafka_security(destination.tls, destination.auth.as_ref()));
    settings
}

/// The producers of every `kafka` endpoint, shared by the [`crate::send::Sender`]'s clones.
pub(crate) struct Producers {
    policy: Arc<Policy>,
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    producers: HashMap<Settings, Cached>,
    /// The settings each endpoint last produced with.
    endpoints: HashMap<String, Settings>,
}

struct Cached {
    producer: Arc<Producer>,
    last_used: Instant,
}

/// librdkafka's client errors go to the debug log: every attempt they fail records its
/// own reason, and a broker that is down would have each producer repeat it every few
/// seconds at error level (librdkafka's default).
struct Reports;

impl ClientContext for Reports {
    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!(target: "librdkafka", %error, reason, "Kafka producer error");
    }
}

type Client = FutureProducer<Reports>;

/// One librdkafka producer, with when its cluster's brokers were last found allowed.
struct Producer {
    /// Taken by `drop`, which destroys it off the async workers.
    client: Option<Client>,
    /// Read by every attempt without waiting: an async lock taken by each of hundreds of
    /// attempts in flight hands itself from task to task through the scheduler, one at a
    /// time.
    brokers_checked_at: Mutex<Option<Instant>>,
    /// Held by the attempt that checks the brokers.
    checking: tokio::sync::Mutex<()>,
}

impl Producer {
    fn client(&self) -> &Client {
        self.client.as_ref().expect("taken only when dropped")
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // Destroying a client blocks: it flushes, and joins its threads.
        if let (Some(client), Ok(runtime)) =
            (self.client.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn_blocking(move || drop(client));
        }
    }
}

impl fmt::Debug for Producers {
    /// Never the settings: they hold the credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let producers = lock(&self.cache).producers.len();
        f.debug_struct("Producers")
            .field("producers", &producers)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Producers {
    /// Within a runtime, a task drops idle producers even when no attempt comes to see
    /// them; it ends with the last clone of the sender.
    pub(crate) fn new(policy: Arc<Policy>) -> Arc<Self> {
        let producers = Arc::new(Self {
            policy,
            cache: Mutex::default(),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let producers = Arc::downgrade(&producers);
            runtime.spawn(async move {
                let mut every = tokio::time::interval(PRODUCER_IDLE / 5);
                loop {
                    every.tick().await;
                    let Some(producers) = producers.upgrade() else {
                        return;
                    };
                    lock(&producers.cache).drop_idle(Instant::now());
                }
            });
        }
        producers
    }

    /// Makes one attempt; never fails, its failures are in the [`Outcome`] (which has no
    /// status code and no remote address: the broker's acknowledgement is its success).
    pub(crate) async fn send(
        &self,
        message: KafkaMessage,
        headers: HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Outcome {
        let requested_at = SystemTime::now();
        let started = Instant::now();
        let (responded_at, response_body, error) =
            match self.produce(&message, &headers, &body, timeout).await {
                Ok(written) => (Some(SystemTime::now()), written.into_bytes(), None),
                Err(error) => (None, Vec::new(), Some(bounded(error))),
            };
        Outcome {
            requested_at,
            responded_at,
            status: None,
            response_headers: HeaderMap::new(),
            response_body,
            error,
            latency: started.elapsed(),
            remote_addr: None,
        }
    }

    /// Produces the message and waits for the broker's acknowledgement; Ok is where it was
    /// written, as JSON (the attempt's response data).
    async fn produce(
        &self,
        message: &KafkaMessage,
        headers: &HeaderMap,
        body: &[u8],
        timeout: Duration,
    ) -> Result<String, String> {
        let settings = settings(&message.destination, timeout);
        let topic = message.destination.topic_name.as_str();
        let producer = tokio::time::timeout(timeout, self.ready(message, &settings, timeout))
            .await
            .map_err(|_| {
                format!(
                    "timed out after {} s checking the Kafka cluster's brokers",
                    timeout.as_secs()
                )
            })??;
        let record = FutureRecord::to(topic)
            .key(&message.key)
            .payload(body)
            .headers(kafka_headers(headers));
        let report = match producer.client().send_result(record) {
            Ok(report) => report,
            Err((error, _)) => return Err(format!("Kafka: {error}")),
        };
        let delivered = match tokio::time::timeout(timeout + REPORT_GRACE, report).await {
            Ok(Ok(Ok(delivery))) => Ok(delivery),
            Ok(Ok(Err((error, _)))) => Err(format!("Kafka: {error}")),
            Ok(Err(_)) => Err("Kafka: the producer was closed before it reported".to_string()),
            Err(_) => Err(format!(
                "Kafka: no report within {} s of the message's timeout",
                REPORT_GRACE.as_secs()
            )),
        };
        // An idempotent producer in a fatal state fails every message after: the next
        // attempt gets a new one.
        if delivered.is_err() && producer.client().client().fatal_error().is_some() {
            self.forget(&settings, &producer);
        }
        let delivery = delivered?;
        Ok(serde_json::json!({
            "topic": topic,
            "partition": delivery.partition,
            "offset": delivery.offset,
        })
        .to_string())
    }

    /// The producer for these settings, created if needed, once its brokers are allowed.
    async fn ready(
        &self,
        message: &KafkaMessage,
        settings: &Settings,
        timeout: Duration,
    ) -> Result<Arc<Producer>, String> {
        let cached = self.cached(&message.endpoint_id, settings);
        let producer = match cached {
            Some(producer) => producer,
            None => {
                // librdkafka connects to the bootstrap brokers as soon as it is created.
                for broker in &message.destination.brokers {
                    check_broker(broker, &self.policy)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                let mut config = ClientConfig::new();
                for (name, value) in settings {
                    config.set(*name, value);
                }
                let client = config
                    .create_with_context::<_, Client>(Reports)
                    .map_err(|e| format!("cannot create the Kafka producer: {e}"))?;
                let created = Producer {
                    client: Some(client),
                    brokers_checked_at: Mutex::new(None),
                    checking: tokio::sync::Mutex::new(()),
                };
                self.insert(&message.endpoint_id, settings, created)
            }
        };
        let checked = self
            .check_advertised(&producer, &message.destination.topic_name, timeout)
            .await;
        if let Err(Unallowed::Refused(_)) = &checked {
            self.forget(settings, &producer);
        }
        checked.map_err(|e| e.to_string())?;
        Ok(producer)
    }

    /// Checks the brokers the cluster advertises, unless that was done recently.
    async fn check_advertised(
        &self,
        producer: &Producer,
        topic: &str,
        timeout: Duration,
    ) -> Result<(), Unallowed> {
        let checked_recently = || {
            lock(&producer.brokers_checked_at)
                .is_some_and(|at| at.elapsed() < BROKER_CHECK_INTERVAL)
        };
        if checked_recently() {
            return Ok(());
        }
        // One attempt checks; the others wait for it, then find the check done.
        let _checking = producer.checking.lock().await;
        if checked_recently() {
            return Ok(());
        }
        let client = producer.client().clone();
        let topic = topic.to_string();
        // Blocking: off the async workers.
        let fetched = tokio::task::spawn_blocking(move || {
            client
                .client()
                .fetch_metadata(Some(&topic), timeout)
                .map(|metadata| advertised(&metadata))
        })
        .await;
        let brokers = match fetched {
            Ok(Ok(brokers)) => brokers,
            Ok(Err(e)) => {
                return Err(Unallowed::Unresolved(format!(
                    "cannot read the Kafka cluster's brokers: {e}"
                )));
            }
            Err(e) => return Err(Unallowed::Unresolved(e.to_string())),
        };
        for broker in &brokers {
            check_broker(broker, &self.policy)
                .await
                .map_err(|e| match e {
                    Unallowed::Refused(why) => Unallowed::Refused(format!(
                        "the Kafka cluster advertises the broker {broker}: {why}"
                    )),
                    unresolved => unresolved,
                })?;
        }
        *lock(&producer.brokers_checked_at) = Some(Instant::now());
        Ok(())
    }

    /// The cached producer for these settings, if any; drops the producers no attempt used
    /// for [`PRODUCER_IDLE`].
    fn cached(&self, endpoint_id: &str, settings: &Settings) -> Option<Arc<Producer>> {
        let mut cache = lock(&self.cache);
        let now = Instant::now();
        cache.drop_idle(now);
        let cached = cache.producers.get_mut(settings)?;
        cached.last_used = now;
        let producer = cached.producer.clone();
        cache.used_by(endpoint_id, settings);
        Some(producer)
    }

    /// Caches a new producer, or keeps the one another attempt cached meanwhile.
    fn insert(&self, endpoint_id: &str, settings: &Settings, created: Producer) -> Arc<Producer> {
        let mut cache = lock(&self.cache);
        let producer = cache
            .producers
            .entry(settings.clone())
            .or_insert_with(|| Cached {
                producer: Arc::new(created),
                last_used: Instant::now(),
            })
            .producer
            .clone();
        cache.used_by(endpoint_id, settings);
        producer
    }

    /// Drops this producer from the cache (not one created since).
    fn forget(&self, settings: &Settings, producer: &Arc<Producer>) {
        let mut cache = lock(&self.cache);
        if cache
            .producers
            .get(settings)
            .is_some_and(|cached| Arc::ptr_eq(&cached.producer, producer))
        {
            cache.producers.remove(settings);
        }
    }

    #[cfg(test)]
    fn cached_count(&self) -> usize {
        lock(&self.cache).producers.len()
    }
}

impl Cache {
    /// Drops the producers no attempt used for [`PRODUCER_IDLE`] (an attempt in flight
    /// keeps its own until it ends), and what is known of the endpoints that used them.
    fn drop_idle(&mut self, now: Instant) {
        let Cache {
            producers,
            endpoints,
        } = self;
        producers.retain(|_, cached| now.duration_since(cached.last_used) < PRODUCER_IDLE);
        endpoints.retain(|_, used| producers.contains_key(used));
    }

    /// Records the settings an endpoint produces with; when they replace others that no
    /// other endpoint uses, their producer is dropped.
    fn used_by(&mut self, endpoint_id: &str, settings: &Settings) {
        if self.endpoints.get(endpoint_id) == Some(settings) {
            return;
        }
        let Some(old) = self
            .endpoints
            .insert(endpoint_id.to_string(), settings.clone())
        else {
            return;
        };
        if !self.endpoints.values().any(|used| *used == old) {
            self.producers.remove(&old);
        }
    }
}

/// The request headers as Kafka headers, every value of each.
fn kafka_headers(headers: &HeaderMap) -> OwnedHeaders {
    headers.iter().fold(
        OwnedHeaders::new_with_capacity(headers.len()),
        |kafka, (name, value)| {
            kafka.insert(Header {
                key: name.as_str(),
                value: Some(value.as_bytes()),
            })
        },
    )
}

/// The brokers of a metadata answer.
fn advertised(metadata: &rdkafka::metadata::Metadata) -> Vec<String> {
    metadata
        .brokers()
        .iter()
        .map(|broker| kafka_broker_address(broker.host(), broker.port()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    use inlet_model::outbound::AllowList;
    use rdkafka::Message as _;
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    use rdkafka::message::Headers as _;
    use rdkafka::mocking::MockCluster;
    use rdkafka::producer::DefaultProducerContext;
    use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

    use crate::send::{Outgoing, Sender, Target};

    const TOPIC: &str = "deliveries";
    const TIMEOUT: Duration = Duration::from_secs(10);

    fn event(json: serde_json::Value) -> Event {
        let mut event = serde_json::json!({
            "uid": "01JEVENT000000000000000000",
            "event_type": "order.created",
            "project_id": "p",
            "data": {"id": "order-7", "n": 1},
            "raw": "{\"id\":\"order-7\",\"n\":1}",
        });
        event
            .as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(event).unwrap()
    }

    fn destination(brokers: &str, key: &str) -> KafkaDestination {
        KafkaDestination {
            brokers: vec![brokers.to_string()],
            topic_name: TOPIC.to_string(),
            tls: false,
            auth: None,
            key: key.to_string(),
        }
    }

    fn cluster() -> MockCluster<'static, DefaultProducerContext> {
        let cluster = MockCluster::new(1).unwrap();
        cluster.create_topic(TOPIC, 1, 1).unwrap();
        cluster
    }

    fn loopback() -> Arc<Policy> {
        Arc::new(Policy::new(AllowList::parse(["127.0.0.1"]).unwrap()))
    }

    fn outgoing(endpoint_id: &str, destination: KafkaDestination, key: &str) -> Outgoing {
        let mut headers = HeaderMap::new();
        headers.insert("x-convoy-signature", "t=1,v1=abc".parse().unwrap());
        headers.append("x-many", "one".parse().unwrap());
        headers.append("x-many", "two".parse().unwrap());
        Outgoing {
            target: Target::Kafka(KafkaMessage {
                endpoint_id: endpoint_id.to_string(),
                destination,
                key: key.as_bytes().to_vec(),
            }),
            headers,
            body: Bytes::from_static(br#"{"id":"order-7"}"#),
            timeout: TIMEOUT,
        }
    }

    /// Every message of the topic's partition 0, from its start.
    fn messages(
        brokers: &str,
        expected: usize,
        wait: Duration,
    ) -> Vec<rdkafka::message::OwnedMessage> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", "test")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut partitions = TopicPartitionList::new();
        partitions
            .add_partition_offset(TOPIC, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&partitions).unwrap();
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while got.len() < expected && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                got.push(message.unwrap().detach());
            }
        }
        got
    }

    #[tokio::test]
    async fn a_message_succeeds_once_acknowledged_with_its_key_headers_and_body() {
        let cluster = cluster();
        let brokers = cluster.bootstrap_servers();
        let sender = Sender::new(loopback()).unwrap();
        let outcome = sender
            .send(outgoing(
                "ep_1",
                destination(&brokers, EVENT_ID_KEY),
                "key-1",
            ))
            .await;
        assert_eq!(outcome.error, None);
        assert!(outcome.is_success());
        assert_eq!(outcome.status, None);
        assert_eq!(outcome.remote_addr, None);
        assert!(outcome.responded_at.is_some());
        let written: serde_json::Value = serde_json::from_slice(&outcome.response_body).unwrap();
        assert_eq!(
            written,
            serde_json::json!({"topic": TOPIC, "partition": 0, "offset": 0})
        );

        let got = messages(&brokers, 1, TIMEOUT);
        assert_eq!(got.len(), 1);
        let message = &got[0];
        assert_eq!(message.key(), Some(b"key-1".as_slice()));
        assert_eq!(message.payload(), Some(br#"{"id":"order-7"}"#.as_slice()));
        let headers: Vec<(String, Vec<u8>)> = message
            .headers()
            .unwrap()
            .iter()
            .map(|h| (h.key.to_string(), h.value.unwrap().to_vec()))
            .collect();
        assert_eq!(
            headers,
            [
                ("x-convoy-signature".to_string(), b"t=1,v1=abc".to_vec()),
                ("x-many".to_string(), b"one".to_vec()),
                ("x-many".to_string(), b"two".to_vec()),
            ]
        );
    }

    impl Producers {
        /// What `Sender::send` does with a Kafka target.
        async fn produce_outgoing(&self, request: Outgoing) -> Outcome {
            let Target::Kafka(message) = request.target else {
                panic!("a Kafka target")
            };
            self.send(message, request.headers, request.body, request.timeout)
                .await
        }
    }

    #[tokio::test]
    async fn a_broker_the_policy_refuses_gets_no_producer() {
        let cluster = cluster();
        let brokers = cluster.bootstrap_servers();
        let producers = Producers::new(Arc::new(Policy::default()));
        let outcome = producers
            .produce_outgoing(outgoing("ep_1", destination(&brokers, EVENT_ID_KEY), "k"))
            .await;
        let error = outcome.error.clone().unwrap();
        assert!(
            error.starts_with(&format!(
                "outbound_not_allowed: Inlet may not connect to {brokers}: 127.0.0.1 is loopback"
            )),
            "{error}"
        );
        assert!(!outcome.is_success());
        assert_eq!(producers.cached_count(), 0);
        let outcome = producers
            .produce_outgoing(outgoing(
                "ep_1",
                destination(
                    &format!("localhost:{}", brokers.rsplit(':').next().unwrap()),
                    EVENT_ID_KEY,
                ),
                "k",
            ))
            .await;
        let error = outcome.error.unwrap();
        assert!(
            error.contains("localhost resolves to") && error.contains("127.0.0.1 (loopback)"),
            "{error}"
        );
        assert_eq!(producers.cached_count(), 0);
        assert_eq!(messages(&brokers, 1, Duration::from_secs(1)).len(), 0);
    }

    #[tokio::test]
    async fn producers_are_shared_per_configuration_and_dropped_with_their_last_endpoint() {
        let (one, two) = (cluster(), cluster());
        let producers = Producers::new(loopback());
        let send = |endpoint: &'static str, brokers: String| {
            let producers = &producers;
            async move {
                let outcome = producers
                    .produce_outgoing(outgoing(endpoint, destination(&brokers, EVENT_ID_KEY), "k"))
                    .await;
                assert!(outcome.is_success(), "{outcome:?}");
            }
        };
        send("ep_a", one.bootstrap_servers()).await;
        send("ep_b", one.bootstrap_servers()).await;
        assert_eq!(producers.cached_count(), 1, "one configuration");
        send("ep_a", two.bootstrap_servers()).await;
        assert_eq!(producers.cached_count(), 2, "ep_b still uses the first");
        send("ep_b", two.bootstrap_servers()).await;
        assert_eq!(producers.cached_count(), 1, "nobody uses the first");
        assert_eq!(
            messages(&one.bootstrap_servers(), 3, Duration::from_secs(2)).len(),
            2
        );
        assert_eq!(
            messages(&two.bootstrap_servers(), 3, Duration::from_secs(2)).len(),
            2
        );
    }

    #[tokio::test]
    async fn an_unreachable_cluster_is_a_failed_attempt_within_its_timeout() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let producers = Producers::new(loopback());
        let mut request = outgoing(
            "ep_1",
            destination(&format!("127.0.0.1:{port}"), EVENT_ID_KEY),
            "k",
        );
        request.timeout = Duration::from_secs(1);
        let outcome = producers.produce_outgoing(request).await;
        let error = outcome.error.clone().unwrap();
        assert!(
            error.starts_with("cannot read the Kafka cluster's brokers")
                || error.starts_with("timed out after 1 s"),
            "{error}"
        );
        assert!(!outcome.is_success());
        assert!(
            outcome.latency < Duration::from_secs(3),
            "{:?}",
            outcome.latency
        );
    }

    #[test]
    fn the_key_is_the_event_id_or_read_from_the_events_request() {
        let event = event(serde_json::json!({
            "headers": {"x-order": ["h-9"]},
            "url_query_params": "tenant=acme",
        }));
        let key = |location: &str| message_key(&destination("b:9092", location), &event);
        assert_eq!(key(EVENT_ID_KEY).unwrap(), b"01JEVENT000000000000000000");
        assert_eq!(key("request.body.id").unwrap(), b"order-7");
        assert_eq!(key("request.body.n").unwrap(), b"1");
        assert_eq!(key("request.header.X-Order").unwrap(), b"h-9");
        assert_eq!(key("request.query.tenant").unwrap(), b"acme");
        let absent = key("request.body.missing").unwrap_err();
        assert_eq!(absent.field, "kafka.key");
        assert_eq!(
            absent.message,
            "this event has no value at request.body.missing"
        );
        for bad in ["event.uid", "request.cookie.x", "id", ""] {
            let error = validate_key(bad).unwrap_err();
            assert_eq!(error.field, "kafka.key", "{bad}");
            assert!(error.message.ends_with("or event.id"), "{bad}: {error}");
        }
        assert!(validate_key("request.body.a.b").is_ok());
    }

    #[test]
    fn auth_becomes_sasl_over_tls_and_the_timeout_bounds_each_message() {
        let mut kafka = destination("kafka-1:9092", EVENT_ID_KEY);
        kafka.auth = serde_json::from_value(serde_json::json!({
            "type": "scram", "hash": "SHA512", "tls": true, "username": "u", "password": "p"
        }))
        .unwrap();
        let get = |settings: &Settings, name: &str| {
            settings
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        let with_auth = settings(&kafka, Duration::from_secs(7));
        for (name, value) in [
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.password", "p"),
            ("enable.idempotence", "true"),
            ("acks", "all"),
            ("message.timeout.ms", "7000"),
        ] {
            assert_eq!(get(&with_auth, name).as_deref(), Some(value), "{name}");
        }
        kafka.auth = None;
        let plain = settings(&kafka, Duration::from_secs(7));
        assert_eq!(
            get(&plain, "security.protocol").as_deref(),
            Some("plaintext")
        );
        assert_eq!(get(&plain, "sasl.mechanism"), None);
        kafka.tls = true;
        let tls = settings(&kafka, Duration::from_secs(7));
        assert_eq!(get(&tls, "security.protocol").as_deref(), Some("ssl"));
        assert_ne!(plain, tls, "another producer");
    }
}
