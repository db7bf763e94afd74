//! Pub/Sub drain: how fast Inlet moves messages from a subscription into its store, next to a
//! plain streaming-pull subscriber (the same client library and flow control) that only acks,
//! against the same emulator in the same run.
//!
//! cargo run --release -p inlet-bench --bin pubsub_drain -- [MESSAGES] [BYTES] [WORKERS]
//!
//! The emulator is the one at `PUBSUB_ENDPOINT` (default `http://127.0.0.1:8085`), started
//! with `cloud-pubsub-emulator --host=127.0.0.1 --port=8085`. One topic feeds two
//! subscriptions, one per consumer; each consumer opens `WORKERS` streams and is timed from its
//! first message to its last.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use base64::Engine;
use bytes::Bytes;
use google_cloud_auth::credentials::anonymous;
use google_cloud_pubsub::client::Subscriber;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use inlet_bench::{Http, allow_loopback, numeric_args, start_inlet};
use serde_json::{Value, json};

const PROJECT: &str = "inlet-bench";

#[tokio::main]
async fn main() {
    let [messages, bytes, workers] = numeric_args([20_000, 1024, 2]);
    let endpoint =
        std::env::var("PUBSUB_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:8085".into());
    println!("emulator: {endpoint}; {messages} messages of ~{bytes} bytes, {workers} workers");
    let bench = start_inlet(allow_loopback).await;
    let run = std::process::id();
    let (topic, plain_sub, inlet_sub) = (
        format!("bench-{run}"),
        format!("plain-{run}"),
        format!("inlet-{run}"),
    );
    let rest = Rest {
        http: bench.http.clone(),
        base: format!("{endpoint}/v1/projects/{PROJECT}"),
    };
    rest.call(Method::PUT, &format!("topics/{topic}"), json!({}))
        .await;
    for subscription in [&plain_sub, &inlet_sub] {
        let body = json!({"topic": format!("projects/{PROJECT}/topics/{topic}")});
        rest.call(Method::PUT, &format!("subscriptions/{subscription}"), body)
            .await;
    }
    rest.publish(&topic, messages, bytes).await;

    let plain = plain_drain(&endpoint, &plain_sub, messages, workers).await;
    println!("plain streaming pull (ack only):      {plain:>7.0} msg/s");

    let source = bench
        .pub_sub_source(json!({"type": "google", "workers": workers, "google": {
            "project_id": PROJECT, "subscription_id": inlet_sub, "endpoint": endpoint}}))
        .await;
    let inlet = bench.drain_rate(&source, messages).await;
    println!("inlet google source (store, then ack): {inlet:>7.0} msg/s");
    println!("ratio inlet / plain: {:.2}", inlet / plain);
    bench.server.shutdown().await.unwrap();
}

/// The emulator's REST API, for setting up.
struct Rest {
    http: Http,
    base: String,
}

impl Rest {
    async fn call(&self, method: Method, path: &str, body: Value) -> Value {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}/{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = self
            .http
            .request(request)
            .await
            .expect("the emulator answers");
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        assert!(status.is_success(), "{path}: {status} {bytes:?}");
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// Publishes `messages` Convoy event bodies of about `bytes` bytes, 100 per request.
    async fn publish(&self, topic: &str, messages: usize, bytes: usize) {
        let started = Instant::now();
        let pad = "x".repeat(bytes.saturating_sub(100));
        let engine = base64::engine::general_purpose::STANDARD;
        for first in (0..messages).step_by(100) {
            let batch: Vec<Value> = (first..messages.min(first + 100))
                .map(|n| {
                    let body = json!({"endpoint_id": "e1", "event_type": "bench",
                        "data": {"n": n, "pad": pad}});
                    json!({"data": engine.encode(body.to_string())})
                })
                .collect();
            let path = format!("topics/{topic}:publish");
            self.call(Method::POST, &path, json!({ "messages": batch }))
                .await;
        }
        println!(
            "published {messages} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}

/// Streams and acks until `messages` are acked; messages per second from the first.
async fn plain_drain(endpoint: &str, subscription: &str, messages: usize, workers: usize) -> f64 {
    let subscriber = Subscriber::builder()
        .with_endpoint(endpoint)
        .with_credentials(anonymous::Builder::new().build())
        .build()
        .await
        .unwrap();
    let name = format!("projects/{PROJECT}/subscriptions/{subscription}");
    let acked = Arc::new(AtomicUsize::new(0));
    let first = Arc::new(std::sync::OnceLock::new());
    let last = Arc::new(std::sync::OnceLock::new());
    let streams = (0..workers).map(|_| {
        let mut stream = subscriber
            .subscribe(&name)
            .set_max_outstanding_messages(1_000)
            .set_max_outstanding_bytes(16 * 1024 * 1024)
            .build();
        let (acked, first, last) = (acked.clone(), first.clone(), last.clone());
        tokio::spawn(async move {
            while last.get().is_none() {
                let next = tokio::time::timeout(std::time::Duration::from_secs(1), stream.next());
                let Ok(Some(received)) = next.await else {
                    continue;
                };
                let (_, handler) = received.unwrap();
                first.get_or_init(Instant::now);
                handler.ack();
                if acked.fetch_add(1, Relaxed) + 1 >= messages {
                    last.get_or_init(Instant::now);
                }
            }
            stream.shutdown_token().shutdown().await;
        })
    });
    for stream in streams.collect::<Vec<_>>() {
        stream.await.unwrap();
    }
    let elapsed = last.get().unwrap().duration_since(*first.get().unwrap());
    (messages - 1) as f64 / elapsed.as_secs_f64()
}
