//! SQS drain: how fast Inlet moves messages from a queue into its store, next to a plain
//! aws-sdk-sqs loop that only receives and deletes the same number of messages, against
//! the same server in the same run.
//!
//! cargo run --release -p inlet-bench --bin sqs_drain -- [MESSAGES] [BYTES] [WORKERS]
//!
//! The server is the one at `SQS_ENDPOINT` (default `http://127.0.0.1:4566`), for example
//! fauxqs (`FAUXQS_PORT=4566 npx fauxqs@1.9.2`) or moto's server; it must accept any
//! credentials. Each consumer drains its own queue, filled beforehand, with `WORKERS`
//! concurrent long polls of ten messages, and is timed from its first message to its last.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, SendMessageBatchRequestEntry};
use inlet_bench::{allow_loopback, numeric_args, start_inlet};
use serde_json::json;

const REGION: &str = "us-east-1";

#[tokio::main]
async fn main() {
    let [messages, bytes, workers] = numeric_args([10_000, 1024, 4]);
    let endpoint = std::env::var("SQS_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into());
    let client = Client::from_conf(
        aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(&endpoint)
            .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
            .build(),
    );
    let run = std::process::id();
    println!("server: {endpoint}; {messages} messages of ~{bytes} bytes, {workers} workers");

    let plain_queue = fill(&client, &format!("plain-{run}"), messages, bytes, workers).await;
    let plain = plain_drain(&client, &plain_queue, messages, workers).await;
    println!("plain aws-sdk-sqs (receive + delete): {plain:>7.0} msg/s");

    let inlet_queue = fill(&client, &format!("inlet-{run}"), messages, bytes, workers).await;
    let bench = start_inlet(allow_loopback).await;
    let source = bench
        .pub_sub_source(json!({"type": "sqs", "workers": workers, "sqs": {
            "access_key_id": "bench", "secret_key": "bench", "default_region": REGION,
            "queue_name": inlet_queue, "endpoint": endpoint}}))
        .await;
    let inlet = bench.drain_rate(&source, messages).await;
    println!("inlet sqs source (store, then delete): {inlet:>7.0} msg/s");
    println!("ratio inlet / plain: {:.2}", inlet / plain);
    bench.server.shutdown().await.unwrap();
}

/// Creates a queue and sends it `messages` Convoy event bodies, in batches of ten from
/// `workers` tasks; returns its URL.
async fn fill(
    client: &Client,
    name: &str,
    messages: usize,
    bytes: usize,
    workers: usize,
) -> String {
    let url = client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let started = Instant::now();
    let pad = "x".repeat(bytes.saturating_sub(100));
    let senders = (0..workers).map(|w| {
        let (client, url, pad) = (client.clone(), url.clone(), pad.clone());
        tokio::spawn(async move {
            let mine: Vec<usize> = (w..messages).step_by(workers).collect();
            for batch in mine.chunks(10) {
                let entries = batch.iter().enumerate().map(|(i, n)| {
                    let body = json!({"endpoint_id": "e1", "event_type": "bench",
                        "data": {"n": n, "pad": pad}});
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body.to_string())
                        .build()
                        .unwrap()
                });
                client
                    .send_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries.collect()))
                    .send()
                    .await
                    .unwrap();
            }
        })
    });
    for sender in senders.collect::<Vec<_>>() {
        sender.await.unwrap();
    }
    println!("filled {name} in {:.1} s", started.elapsed().as_secs_f64());
    url
}

/// Receives and deletes until `messages` are deleted; messages per second from the first
/// receive to the last delete (not counting the idle polls that end the other workers).
async fn plain_drain(client: &Client, url: &str, messages: usize, workers: usize) -> f64 {
    let deleted = Arc::new(AtomicUsize::new(0));
    let first = Arc::new(OnceLock::new());
    let last = Arc::new(OnceLock::new());
    let drainers = (0..workers).map(|_| {
        let (client, url, deleted, first, last) = (
            client.clone(),
            url.to_string(),
            deleted.clone(),
            first.clone(),
            last.clone(),
        );
        tokio::spawn(async move {
            while deleted.load(Relaxed) < messages {
                let received = client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .unwrap()
                    .messages
                    .unwrap_or_default();
                if received.is_empty() {
                    continue;
                }
                first.get_or_init(|| (Instant::now(), received.len()));
                let entries = received.iter().enumerate().map(|(i, m)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(m.receipt_handle.clone().unwrap())
                        .build()
                        .unwrap()
                });
                client
                    .delete_message_batch()
                    .queue_url(&url)
                    .set_entries(Some(entries.collect()))
                    .send()
                    .await
                    .unwrap();
                if deleted.fetch_add(received.len(), Relaxed) + received.len() >= messages {
                    last.get_or_init(Instant::now);
                }
            }
        })
    });
    for drainer in drainers.collect::<Vec<_>>() {
        drainer.await.unwrap();
    }
    let (first_at, first_count) = *first.get().unwrap();
    let elapsed = last.get().unwrap().duration_since(first_at);
    (messages - first_count) as f64 / elapsed.as_secs_f64()
}
