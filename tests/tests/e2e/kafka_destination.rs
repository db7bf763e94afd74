//! `kafka` endpoints, end to end: events sent through the REST API arrive on a topic of a
//! real Kafka-protocol broker (librdkafka's mock cluster, in this process, over TCP on
//! loopback) with their key, headers (the signature checked by the test's own HMAC code)
//! and body; a broker taken down makes attempts fail and retry until it is back; two Inlet
//! processes with the same endpoint configuration both produce to one topic.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use hyper::{Method, StatusCode};
use inlet_tests::kafka::Kafka;
use inlet_tests::{ADMIN_TOKEN, ALLOW_BROKERS, Client, TestServer, eventually, spawn_inlet};
use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::{Headers as _, OwnedMessage};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde_json::{Value, json};
use sha2::Sha256;

const TOPIC: &str = "deliveries";
const SECRET: &str = "a-secret-the-test-knows";

/// An outgoing project retrying every second, up to `retries` times; its uid and API key.
async fn project(c: &Client, retries: u64) -> (String, String) {
    let strategy = json!({"type": "linear", "duration": 1, "retry_count": retries});
    let data = c
        .expect(
            Method::POST,
            "/api/v1/projects",
            Some(json!({"name": "to kafka", "type": "outgoing", "config": {"strategy": strategy}})),
            StatusCode::CREATED,
        )
        .await;
    (
        data["uid"].as_str().unwrap().to_string(),
        data["api_key"].as_str().unwrap().to_string(),
    )
}

/// A `kafka` endpoint's body: the topic on `brokers`, keys from `key`.
fn kafka_endpoint(brokers: &str, key: Option<&str>, timeout_secs: u64) -> Value {
    let mut kafka = json!({"brokers": [brokers], "topic_name": TOPIC});
    if let Some(key) = key {
        kafka["key"] = json!(key);
    }
    json!({"type": "kafka", "name": "orders", "secret": SECRET,
           "http_timeout": timeout_secs, "kafka": kafka})
}

async fn send_event(c: &Client, project: &str, key: &str, body: Value) -> Value {
    let path = format!("/api/v1/projects/{project}/events");
    let reply = c.api(Method::POST, &path, key, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.json()["data"].clone()
}

async fn deliveries(c: &Client, project: &str, query: &str) -> Vec<Value> {
    let path = format!("/api/v1/projects/{project}/eventdeliveries?perPage=1000{query}");
    let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
    data["content"].as_array().unwrap().clone()
}

/// The project's deliveries, once there are `count` and all are `Success`.
async fn all_succeeded(c: &Client, project: &str, count: usize, secs: u64) -> Vec<Value> {
    eventually(secs, "every delivery a success", || async {
        let all = deliveries(c, project, "").await;
        let done = all.len() == count && all.iter().all(|d| d["status"] == "Success");
        done.then_some(all)
    })
    .await
}

async fn attempts(c: &Client, project: &str, delivery: &str) -> Vec<Value> {
    let path = format!("/api/v1/projects/{project}/eventdeliveries/{delivery}/deliveryattempts");
    let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
    data.as_array().unwrap().clone()
}

/// Every message of the topic, from the start of each partition, once there are at least
/// `expected` (or `secs` passed); then for a moment longer, so that extra ones show.
async fn consume(brokers: &str, partitions: i32, expected: usize, secs: u64) -> Vec<OwnedMessage> {
    let brokers = brokers.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", "kafka-destination-test")
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        for partition in 0..partitions {
            assignment
                .add_partition_offset(TOPIC, partition, Offset::Beginning)
                .unwrap();
        }
        consumer.assign(&assignment).unwrap();
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut got = Vec::new();
        let mut quiet_until = None;
        loop {
            let now = Instant::now();
            if now >= deadline || quiet_until.is_some_and(|until| now >= until) {
                return got;
            }
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                got.push(message.unwrap().detach());
            }
            if got.len() >= expected && quiet_until.is_none() {
                quiet_until = Some(Instant::now() + Duration::from_millis(500));
            }
        }
    })
    .await
    .unwrap()
}

fn header<'m>(message: &'m OwnedMessage, name: &str) -> Option<&'m str> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| std::str::from_utf8(h.value?).ok())
}

fn key(message: &OwnedMessage) -> String {
    String::from_utf8(message.key().unwrap().to_vec()).unwrap()
}

/// Whether the message's Convoy advanced signature (`t=…,v1=…`) verifies for `secret`.
fn signature_valid(message: &OwnedMessage, secret: &str) -> bool {
    let signature = header(message, "x-convoy-signature").unwrap();
    let mut parts = signature.split(',');
    let t = parts.next().unwrap().strip_prefix("t=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t},").as_bytes());
    mac.update(message.payload().unwrap());
    let expected = hex::encode(mac.finalize().into_bytes());
    parts.any(|part| part.strip_prefix("v1=") == Some(expected.as_str()))
}

#[tokio::test]
async fn kafka_endpoint_messages_carry_their_key_signed_headers_and_body() {
    let kafka = Kafka::start(TOPIC, 2);
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, api_key) = project(c, 3).await;
    let endpoint = c
        .create_endpoint(
            &project,
            kafka_endpoint(&kafka.brokers(), Some("request.body.order_id"), 5),
        )
        .await;
    assert_eq!(endpoint["type"], "kafka");
    assert_eq!(endpoint["url"], "");
    assert_eq!(
        endpoint["kafka"],
        json!({"brokers": [kafka.brokers()], "topic_name": TOPIC, "tls": false,
               "key": "request.body.order_id"})
    );
    let mut events = HashMap::new();
    for n in 0..3 {
        let event = send_event(
            c,
            &project,
            &api_key,
            json!({"endpoint_id": endpoint["uid"], "event_type": "order.created",
                   "custom_headers": {"X-Tenant": "acme"},
                   "data": {"order_id": format!("order-{n}"), "amount": n}}),
        )
        .await;
        events.insert(format!("order-{n}"), event);
    }

    let delivered = all_succeeded(c, &project, 3, 30).await;
    let messages = consume(&kafka.brokers(), 2, 3, 30).await;
    assert_eq!(messages.len(), 3, "one message per event");
    let by_delivery: HashMap<&str, &Value> = delivered
        .iter()
        .map(|d| (d["uid"].as_str().unwrap(), d))
        .collect();
    for message in &messages {
        let event = &events[&key(message)];
        assert_eq!(
            message.payload().unwrap(),
            event["raw"].as_str().unwrap().as_bytes(),
            "the body byte-exact"
        );
        assert!(signature_valid(message, SECRET), "{:?}", message.headers());
        assert_eq!(header(message, "x-tenant"), Some("acme"));
        assert_eq!(header(message, "content-type"), Some("application/json"));
        assert!(header(message, "user-agent").unwrap().starts_with("Inlet/"));
        let delivery = by_delivery[header(message, "x-convoy-idempotency-key").unwrap()];
        assert_eq!(delivery["event_id"], event["uid"]);
    }

    let delivery = &delivered[0];
    let attempts = attempts(c, &project, delivery["uid"].as_str().unwrap()).await;
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert_eq!(attempt["status"], true);
    // No HTTP status, address or error: none is stored (and none shown).
    for absent in ["http_status", "ip_address", "error"] {
        assert_eq!(attempt.get(absent), None, "{attempt}");
    }
    let written: Value = serde_json::from_str(attempt["response_data"].as_str().unwrap()).unwrap();
    assert_eq!(written["topic"], TOPIC);
    assert!(written["offset"].as_i64().is_some(), "{written}");
    let url = attempt["url"].as_str().unwrap();
    assert!(
        url.starts_with("kafka://") && url.ends_with(&format!("/{TOPIC}")),
        "{url}"
    );
    assert!(!attempt.to_string().contains(SECRET));
}

#[tokio::test]
async fn kafka_endpoints_are_validated_and_their_password_masked() {
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, _) = project(c, 0).await;
    let path = format!("/api/v1/projects/{project}/endpoints");
    let with = |kafka: Value| json!({"type": "kafka", "name": "k", "kafka": kafka});
    let valid = json!({"brokers": ["127.0.0.1:9092"], "topic_name": TOPIC});
    let patched = |field: &str, value: Value| {
        let mut kafka = valid.clone();
        kafka[field] = value;
        with(kafka)
    };
    for (body, code, message) in [
        (
            json!({"type": "kafka", "name": "k"}),
            "invalid_field",
            "kafka: required",
        ),
        (
            patched("brokers", json!([])),
            "invalid_field",
            "kafka.brokers: 1 to 16",
        ),
        (
            patched("brokers", json!(["kafka-1"])),
            "invalid_field",
            "is not host:port",
        ),
        (
            patched("brokers", json!(["a:1,b:2"])),
            "invalid_field",
            "is not host:port",
        ),
        (
            patched("topic_name", json!("no spaces")),
            "invalid_field",
            "kafka.topic_name",
        ),
        (
            patched("topic_name", json!("..")),
            "invalid_field",
            "kafka.topic_name",
        ),
        (
            patched("topic_name", json!("t".repeat(250))),
            "invalid_field",
            "kafka.topic_name",
        ),
        (
            patched("key", json!("request.cookie.x")),
            "invalid_field",
            "kafka.key",
        ),
        (
            patched(
                "auth",
                json!({"type": "plain", "username": "u", "password": "p"}),
            ),
            "invalid_field",
            "kafka.auth.tls",
        ),
        (
            patched("brokers", json!(["10.0.0.1:9092"])),
            "outbound_not_allowed",
            "kafka.brokers: Inlet may not connect to 10.0.0.1:9092: 10.0.0.1 is private",
        ),
        (
            patched("brokers", json!(["[::1]:9092"])),
            "outbound_not_allowed",
            "::1 is loopback",
        ),
        (
            json!({"type": "kafka", "name": "k", "url": "http://127.0.0.1:9/", "kafka": valid}),
            "invalid_field",
            "url: a kafka endpoint has no URL",
        ),
        (
            json!({"name": "k", "url": "http://127.0.0.1:9/", "kafka": valid}),
            "invalid_field",
            "kafka: only for an endpoint of type kafka",
        ),
    ] {
        c.assert_bad_request(&path, body, code, message).await;
    }

    let password = "kafka-password-8812";
    let auth = json!({"type": "scram", "hash": "SHA256", "tls": true,
                      "username": "inlet", "password": password});
    let reply = c
        .api(
            Method::POST,
            &path,
            ADMIN_TOKEN,
            Some(patched("auth", auth)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert!(!reply.text().contains(password), "{}", reply.text());
    let created = reply.json()["data"].clone();
    assert_eq!(created["kafka"]["auth"]["password"], "********");
    assert_eq!(created["kafka"]["key"], "event.id", "the default key");
    // What was read back, sent again, keeps the stored password.
    let uid = created["uid"].as_str().unwrap();
    let updated = c
        .expect(
            Method::PUT,
            &format!("{path}/{uid}"),
            Some(created.clone()),
            StatusCode::OK,
        )
        .await;
    assert_eq!(updated["kafka"], created["kafka"]);
    for listed in [
        c.api(Method::GET, &path, ADMIN_TOKEN, None).await,
        c.api(Method::GET, &format!("{path}/{uid}"), ADMIN_TOKEN, None)
            .await,
    ] {
        assert!(!listed.text().contains(password), "{}", listed.text());
    }
    // Back to HTTP: a URL is then required, and the topic goes.
    c.assert_bad_request(
        &path,
        json!({"type": "http", "name": "k"}),
        "invalid_field",
        "url: required",
    )
    .await;
    let http = c
        .expect(
            Method::PUT,
            &format!("{path}/{uid}"),
            Some(json!({"type": "http", "url": "http://127.0.0.1:9/hooks"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(http["type"], "http");
    assert_eq!(http.get("kafka"), None, "{http}");
}

/// A broker down: attempts fail with librdkafka's reason and are retried; once it is back,
/// every event is on the topic.
#[tokio::test]
async fn kafka_endpoint_retries_while_the_broker_is_down_and_loses_nothing() {
    let kafka = Kafka::start(TOPIC, 1);
    let t = TestServer::start().await;
    let c = &t.client;
    let (project, api_key) = project(c, 30).await;
    let endpoint = c
        .create_endpoint(&project, kafka_endpoint(&kafka.brokers(), None, 2))
        .await;
    let body =
        |n: u32| json!({"endpoint_id": endpoint["uid"], "event_type": "t", "data": {"n": n}});
    // The producer exists and its brokers are checked before the outage.
    let first = send_event(c, &project, &api_key, body(0)).await;
    all_succeeded(c, &project, 1, 20).await;

    kafka.cluster.broker_down(1).unwrap();
    let mut sent = vec![first["uid"].as_str().unwrap().to_string()];
    for n in 1..=5 {
        let event = send_event(c, &project, &api_key, body(n)).await;
        sent.push(event["uid"].as_str().unwrap().to_string());
    }
    let retried = eventually(30, "a failed attempt retried", || async {
        let retrying = deliveries(c, &project, "&status=Retry").await;
        retrying.into_iter().next()
    })
    .await;
    let failed = attempts(c, &project, retried["uid"].as_str().unwrap()).await;
    let error = failed[0]["error"].as_str().unwrap();
    assert_ne!(failed[0]["status"], true);
    assert!(error.starts_with("Kafka: "), "{error}");
    let description = retried["description"].as_str().unwrap();
    assert!(description.starts_with("Kafka: "), "{description}");

    kafka.cluster.broker_up(1).unwrap();
    let delivered = all_succeeded(c, &project, 6, 60).await;
    let retries: u64 = delivered
        .iter()
        .map(|d| d["metadata"]["num_trials"].as_u64().unwrap())
        .sum();
    assert!(retries > 6, "some attempts failed: {retries}");
    let messages = consume(&kafka.brokers(), 1, 6, 30).await;
    let keys: HashSet<String> = messages.iter().map(key).collect();
    let expected: HashSet<String> = sent.into_iter().collect();
    assert_eq!(keys, expected, "every event, keyed by its id");
    assert!(
        messages.len() as u64 <= retries,
        "a duplicate only for an attempt made: {} messages, {retries} attempts",
        messages.len()
    );
}

/// One node of two: an Inlet process on its own data directory, with a project and the
/// shared endpoint configuration; its client, project and API key.
async fn node(dir: &Path, brokers: &str) -> (inlet_tests::InletProcess, String, String, String) {
    let inlet = spawn_inlet(dir, Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let (project, api_key) = project(&inlet.client, 10).await;
    let endpoint = inlet
        .client
        .create_endpoint(&project, kafka_endpoint(brokers, None, 5))
        .await;
    let endpoint = endpoint["uid"].as_str().unwrap().to_string();
    (inlet, project, api_key, endpoint)
}

/// Two Inlet processes behind a load balancer, one endpoint configuration, one topic: every
/// event sent to either is on the topic, keyed by its id.
#[tokio::test]
async fn two_inlet_nodes_with_one_endpoint_configuration_share_one_topic() {
    const PER_NODE: u32 = 40;
    let kafka = Kafka::start(TOPIC, 4);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut nodes = Vec::new();
    for dir in &dirs {
        nodes.push(node(dir.path(), &kafka.brokers()).await);
    }
    let mut sent = HashSet::new();
    // Round-robin, as a load balancer would.
    for n in 0..PER_NODE * 2 {
        let (inlet, project, api_key, endpoint) = &nodes[(n % 2) as usize];
        let event = send_event(
            &inlet.client,
            project,
            api_key,
            json!({"endpoint_id": endpoint, "event_type": "t", "data": {"n": n}}),
        )
        .await;
        assert!(sent.insert(event["uid"].as_str().unwrap().to_string()));
    }
    let mut attempts = 0;
    for (inlet, project, _, _) in &nodes {
        let delivered = all_succeeded(&inlet.client, project, PER_NODE as usize, 60).await;
        attempts += delivered
            .iter()
            .map(|d| d["metadata"]["num_trials"].as_u64().unwrap())
            .sum::<u64>();
    }
    let messages = consume(&kafka.brokers(), 4, sent.len(), 30).await;
    let keys: HashSet<String> = messages.iter().map(key).collect();
    assert_eq!(keys, sent, "every event of either node, by its id");
    assert!(
        messages.len() as u64 <= attempts,
        "a duplicate only for a retried attempt: {} messages, {attempts} attempts",
        messages.len()
    );
    if attempts == u64::from(PER_NODE * 2) {
        assert_eq!(messages.len(), sent.len(), "no retry, no duplicate");
    }
}
