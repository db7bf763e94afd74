//! Google's Pub/Sub emulator for the tests: a process on a loopback port, driven through its
//! REST API. It is part of the Google Cloud SDK on the machine; `scripts/test.sh` finds it
//! and passes its path in `INLET_PUBSUB_EMULATOR`.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

pub const PROJECT: &str = "inlet-test";

pub struct PubSub {
    child: Child,
    pub endpoint: String,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Drop for PubSub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port, for an emulator started later.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PubSub {
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts the emulator on `port` and waits until it answers.
    pub async fn start_on(port: u16) -> Self {
        let emulator = std::env::var("INLET_PUBSUB_EMULATOR").unwrap_or_else(|_| {
            panic!(
                "INLET_PUBSUB_EMULATOR is not set: the Pub/Sub tests need Google's emulator; \
                 run them through scripts/test.sh, which finds it"
            )
        });
        let child = Command::new(&emulator)
            .args(["--host=127.0.0.1", &format!("--port={port}")])
            // A lighter JVM (one GC thread, no optimising JIT): the tests share two cores.
            .env(
                "CLOUD_PUBSUB_EMULATOR_OPTS",
                "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {emulator}: {e}"));
        let pubsub = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        };
        for _ in 0..600 {
            if pubsub.call(Method::GET, "/", None).await.is_some() {
                return pubsub;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the Pub/Sub emulator did not answer on {}", pubsub.endpoint);
    }

    /// A REST call; None when nothing answers.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Option<Value> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.endpoint))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .unwrap();
        let response = self.http.request(request).await.ok()?;
        let status = response.status();
        let bytes = response.into_body().collect().await.ok()?.to_bytes();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            String::from_utf8_lossy(&bytes)
        );
        Some(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn rest(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let path = format!("/v1/projects/{PROJECT}/{path}");
        self.call(method, &path, body)
            .await
            .unwrap_or_else(|| panic!("the Pub/Sub emulator did not answer {path}"))
    }

    pub async fn create_topic(&self, topic: &str) {
        self.rest(Method::PUT, &format!("topics/{topic}"), None)
            .await;
    }

    /// A subscription whose unacked messages come back `ack_deadline` seconds after
    /// delivery (10 at least).
    pub async fn create_subscription(&self, subscription: &str, topic: &str, ack_deadline: u32) {
        let body = json!({
            "topic": format!("projects/{PROJECT}/topics/{topic}"),
            "ackDeadlineSeconds": ack_deadline,
        });
        self.rest(
            Method::PUT,
            &format!("subscriptions/{subscription}"),
            Some(body),
        )
        .await;
    }

    /// Publishes the payloads in batches of 100, each with the attribute `trace-id` equal
    /// to its index and the ordering key `customer-<index % 3>`.
    pub async fn publish(&self, topic: &str, payloads: &[Vec<u8>]) {
        let engine = base64::engine::general_purpose::STANDARD;
        for (batch, chunk) in payloads.chunks(100).enumerate() {
            let messages: Vec<Value> = chunk
                .iter()
                .enumerate()
                .map(|(i, payload)| {
                    let index = batch * 100 + i;
                    json!({
                        "data": engine.encode(payload),
                        "attributes": {"trace-id": index.to_string()},
                        "orderingKey": format!("customer-{}", index % 3),
                    })
                })
                .collect();
            self.rest(
                Method::POST,
                &format!("topics/{topic}:publish"),
                Some(json!({ "messages": messages })),
            )
            .await;
        }
    }

    /// How many messages a pull gets now: ones neither acked nor leased to a consumer.
    pub async fn pull_now(&self, subscription: &str) -> usize {
        let pulled = self
            .rest(
                Method::POST,
                &format!("subscriptions/{subscription}:pull"),
                Some(json!({"maxMessages": 1000, "returnImmediately": true})),
            )
            .await;
        pulled["receivedMessages"]
            .as_array()
            .map_or(0, |messages| messages.len())
    }
}

/// A `pub_sub` source of type google on the emulator at `endpoint`, in Convoy's JSON.
pub fn google_source(endpoint: &str, subscription: &str, workers: u32) -> Value {
    json!({
        "name": "pubsub",
        "type": "pub_sub",
        "pub_sub": {
            "type": "google",
            "workers": workers,
            "google": {
                "project_id": PROJECT,
                "subscription_id": subscription,
                "endpoint": endpoint,
            }
        }
    })
}
