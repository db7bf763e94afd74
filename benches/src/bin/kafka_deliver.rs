//! Kafka delivery: how fast Inlet delivers stored events to a `kafka` endpoint, next to a
//! plain rdkafka producer writing the same messages to the same broker, in the same run.
//!
//! cargo run --release -p inlet-bench --bin kafka_deliver -- [EVENTS] [BODY_BYTES] [PARTITIONS]
//!
//! The broker is librdkafka's mock cluster in this process (real Kafka protocol over
//! loopback TCP), or the broker at `KAFKA_BROKERS` (host:port) when that is set. Every
//! producer, the plain ones and Inlet's, is idempotent with `acks=all`, and a message
//! counts once the broker acknowledged it.
//!
//! - plain, unbounded: every message handed to the producer at once, then every
//!   acknowledgement awaited, with librdkafka's default 5 ms linger: the most the producer
//!   and broker do;
//! - plain, 256 in flight: 256 tasks each sending one message and awaiting its
//!   acknowledgement before the next, the shape of Inlet's attempts (at most 256 in flight
//!   to a Kafka endpoint, each waiting for its own acknowledgement), with Inlet's linger of 0;
//! - Inlet: the events are first stored through the REST API (64 clients) with the
//!   endpoint paused, then the endpoint is activated and timed until every delivery is a
//!   success: each delivery is signed, produced, acknowledged, and its attempt's outcome
//!   stored with the WAL synced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Request, StatusCode};
use inlet_bench::{ADMIN, Bench, allow_loopback, numeric_args, process_cpu_time, start_inlet};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use tokio::task::JoinSet;

/// The target: Inlet's delivered/s at least this share of the plain producer's.
const TARGET_RATIO: f64 = 0.5;
/// Inlet's attempts in flight to one Kafka endpoint (`inlet_dispatch::PER_KAFKA_ENDPOINT`).
const PER_ENDPOINT: usize = 256;
/// Clients storing the events.
const CLIENTS: usize = 64;

#[tokio::main]
async fn main() {
    let [events, body_bytes, partitions] = numeric_args([20_000, 1024, 32]);
    let partitions = partitions as i32;
    let topic = format!("deliver-{}", std::process::id());
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
    let pad = "x".repeat(body_bytes.saturating_sub(20));
    let body = |n: usize| json!({"n": n, "pad": pad}).to_string();
    println!(
        "broker: {brokers}; {events} messages of {} bytes, {partitions} partitions, idempotent, acks=all",
        body(0).len()
    );

    let cpu = process_cpu_time();
    let plain = plain_unbounded(&brokers, &topic, events, &body).await;
    let plain_cpu = per_event(process_cpu_time() - cpu, events);
    println!("plain producer, unbounded:   {plain:>9.0} msg/s, {plain_cpu:5.1} µs CPU/msg");
    let cpu = process_cpu_time();
    let shaped = plain_in_flight(&brokers, &topic, events, &body).await;
    let shaped_cpu = per_event(process_cpu_time() - cpu, events);
    println!(
        "plain producer, {PER_ENDPOINT} in flight: {shaped:>9.0} msg/s, {shaped_cpu:5.1} µs CPU/msg"
    );

    let bench = start_inlet(allow_loopback).await;
    let (ingest, delivered, inlet_cpu) = inlet(&bench, &brokers, &topic, events, &body).await;
    println!("Inlet, storing the events:   {ingest:>9.0} events/s (REST API, {CLIENTS} clients)");
    println!(
        "Inlet, delivering them:      {delivered:>9.0} events/s, {inlet_cpu:5.1} µs CPU/event"
    );
    let ratio = delivered / plain;
    println!(
        "Inlet delivered/s ÷ plain unbounded: {ratio:.3} (target ≥ {TARGET_RATIO}: {})",
        if ratio >= TARGET_RATIO {
            "met"
        } else {
            "not met"
        }
    );
    println!(
        "Inlet delivered/s ÷ plain {PER_ENDPOINT} in flight: {:.3}",
        delivered / shaped
    );
    bench.server.shutdown().await.unwrap();
}

/// An idempotent `acks=all` producer; `linger_ms` as Inlet's (0) or librdkafka's default.
fn producer(brokers: &str, linger_ms: Option<&str>) -> FutureProducer {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all");
    if let Some(linger) = linger_ms {
        config.set("linger.ms", linger);
    }
    config.create().unwrap()
}

/// Messages per second, every one handed over at once, timed to the last acknowledgement.
async fn plain_unbounded(
    brokers: &str,
    topic: &str,
    events: usize,
    body: &impl Fn(usize) -> String,
) -> f64 {
    let producer = producer(brokers, None);
    let bodies: Vec<String> = (0..events).map(body).collect();
    let started = Instant::now();
    let mut reports = Vec::with_capacity(events);
    for (n, body) in bodies.iter().enumerate() {
        let key = n.to_string();
        let mut record = FutureRecord::to(topic).key(&key).payload(body);
        loop {
            match producer.send_result(record) {
                Ok(report) => break reports.push(report),
                // The local queue is full: let it drain.
                Err((_, back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }
    for report in reports {
        report.await.unwrap().unwrap();
    }
    events as f64 / started.elapsed().as_secs_f64()
}

/// Messages per second with [`PER_ENDPOINT`] tasks, each awaiting its message's
/// acknowledgement before it sends the next.
async fn plain_in_flight(
    brokers: &str,
    topic: &str,
    events: usize,
    body: &impl Fn(usize) -> String,
) -> f64 {
    let producer = producer(brokers, Some("0"));
    let bodies: Arc<Vec<String>> = Arc::new((0..events).map(body).collect());
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for task in 0..PER_ENDPOINT {
        let (producer, bodies, topic) = (producer.clone(), bodies.clone(), topic.to_string());
        tasks.spawn(async move {
            for n in (task..bodies.len()).step_by(PER_ENDPOINT) {
                let key = n.to_string();
                let record = FutureRecord::to(&topic).key(&key).payload(&bodies[n]);
                producer
                    .send(record, Duration::from_secs(30))
                    .await
                    .unwrap();
            }
        });
    }
    tasks.join_all().await;
    events as f64 / started.elapsed().as_secs_f64()
}

/// Stores the events with the endpoint paused, then delivers them; events/s of each, and
/// the CPU per event delivered.
async fn inlet(
    bench: &Bench,
    brokers: &str,
    topic: &str,
    events: usize,
    body: &impl Fn(usize) -> String,
) -> (f64, f64, f64) {
    let project = bench
        .create(
            "/api/v1/projects",
            ADMIN,
            json!({"name": "bench", "type": "outgoing"}),
        )
        .await;
    let project_id = project["uid"].as_str().unwrap().to_string();
    let api_key: Arc<str> = project["api_key"].as_str().unwrap().into();
    let endpoints = format!("/api/v1/projects/{project_id}/endpoints");
    let endpoint = bench
        .create(
            &endpoints,
            ADMIN,
            json!({"type": "kafka", "name": "topic", "http_timeout": 30,
                   "kafka": {"brokers": [brokers], "topic_name": topic}}),
        )
        .await;
    let endpoint_id = endpoint["uid"].as_str().unwrap().to_string();
    let endpoint_path = format!("{endpoints}/{endpoint_id}");
    call(bench, Method::PUT, &format!("{endpoint_path}/pause")).await;

    let events_path: Arc<str> =
        format!("{}/api/v1/projects/{project_id}/events", bench.base).into();
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..events)
            .map(|n| {
                let data: serde_json::Value = serde_json::from_str(&body(n)).unwrap();
                json!({"endpoint_id": endpoint_id, "event_type": "bench", "data": data}).to_string()
            })
            .collect(),
    );
    let started = Instant::now();
    let mut clients = JoinSet::new();
    for client in 0..CLIENTS {
        let (http, bodies, path, key) = (
            bench.http.clone(),
            bodies.clone(),
            events_path.clone(),
            api_key.clone(),
        );
        clients.spawn(async move {
            for n in (client..bodies.len()).step_by(CLIENTS) {
                let request = Request::builder()
                    .method(Method::POST)
                    .uri(&*path)
                    .header("authorization", format!("Bearer {key}"))
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(bodies[n].clone())))
                    .unwrap();
                let response = http.request(request).await.unwrap();
                assert_eq!(response.status(), StatusCode::CREATED);
            }
        });
    }
    clients.join_all().await;
    let ingest = events as f64 / started.elapsed().as_secs_f64();

    let success = "inlet_deliveries_total{outcome=\"success\"}";
    let failed = [
        "inlet_deliveries_total{outcome=\"retry\"}",
        "inlet_deliveries_total{outcome=\"failure\"}",
    ];
    let cpu = process_cpu_time();
    let started = Instant::now();
    call(bench, Method::POST, &format!("{endpoint_path}/activate")).await;
    loop {
        if bench.metric(success).await as usize >= events {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "deliveries did not finish"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivered = events as f64 / started.elapsed().as_secs_f64();
    let inlet_cpu = per_event(process_cpu_time() - cpu, events);
    let not_first_time = bench.metrics(&failed).await;
    println!(
        "(Inlet's failed attempts: {} retried, {} failed for good)",
        not_first_time[0], not_first_time[1]
    );
    (ingest, delivered, inlet_cpu)
}

/// An admin call without a body, expecting 200.
async fn call(bench: &Bench, method: Method, path: &str) {
    let request = Request::builder()
        .method(method)
        .uri(format!("{}{path}", bench.base))
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = bench.http.request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{path}");
}

fn per_event(cpu: Duration, events: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / events as f64
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
