//! Retention, end to end with the real binary: a project's records go once they are older
//! than its `retention_policy`, so that under a steady load the store stops growing; and
//! an event whose delivery still retries stays past its retention until the delivery ends.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hyper::{Method, StatusCode};
use inlet_tests::receiver::{Answer, Receiver};
use inlet_tests::{ADMIN_TOKEN, ALLOW_BROKERS, Client, eventually, spawn_inlet};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::delivery::{fast, send_event};

/// An outgoing project keeping its records `retention`, retrying failed deliveries every
/// second `retries` times; its uid and API key.
async fn project(c: &Client, retention: &str, retries: u64) -> (String, String) {
    let config = json!({"retention_policy": {"policy": retention}, "strategy": fast(retries)});
    c.create_outgoing_project(config).await
}

/// An endpoint of the project on the receiver; its uid.
async fn endpoint(c: &Client, project: &str, receiver: &Receiver) -> String {
    let data = c
        .create_endpoint(project, json!({"url": receiver.url("/"), "name": "e"}))
        .await;
    data["uid"].as_str().unwrap().to_string()
}

/// The status of `GET` on a project's event or delivery.
async fn status_of(c: &Client, project: &str, what: &str) -> StatusCode {
    let path = format!("/api/v1/projects/{project}/{what}");
    c.api(Method::GET, &path, ADMIN_TOKEN, None).await.status
}

/// An event's deliveries.
async fn deliveries(c: &Client, project: &str, event: &str) -> Vec<Value> {
    let path = format!("/api/v1/projects/{project}/eventdeliveries?eventId={event}");
    let data = c.expect(Method::GET, &path, None, StatusCode::OK).await;
    data["content"].as_array().unwrap().clone()
}

/// Bytes of the files under `dir`: what the store takes on disk.
fn size_of(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => size_of(&entry.path()),
            Ok(meta) => meta.len(),
            // A file RocksDB deleted meanwhile.
            Err(_) => 0,
        })
        .sum()
}

/// Bytes of the store's write-ahead log files (`NNNNNN.log`): shown with each sample.
fn wal_of(store: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(store) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|entry| entry.path().extension().is_some_and(|e| e == "log"))
        .filter_map(|entry| entry.metadata().ok())
        .map(|meta| meta.len())
        .sum()
}

/// Text that LZ4 cannot shrink (the store compresses its files): base64 of a hash chain.
fn incompressible(bytes: usize) -> String {
    let mut block = Sha256::digest(b"retention").to_vec();
    let mut raw = Vec::with_capacity(bytes);
    while raw.len() < bytes * 3 / 4 {
        block = Sha256::digest(&block).to_vec();
        raw.extend_from_slice(&block);
    }
    BASE64.encode(raw)
}

const MIB: u64 = 1 << 20;

/// Clients sending events back to back, each waiting for its answer.
const SENDERS: usize = 8;

/// How long the load runs, and the samples compared: the early ones are taken once the
/// first events have expired and been swept (retention 2 s, a sweep every second).
const LOAD: Duration = Duration::from_secs(26);
/// Each sender's pace: 8 senders of 128 KiB every 150 ms, about 6.8 MiB/s.
const SEND_EVERY: Duration = Duration::from_millis(150);
const EARLY: (Duration, Duration) = (Duration::from_secs(7), Duration::from_secs(11));
const LATE: Duration = Duration::from_secs(21);

/// Two bounds on growth. The write-ahead log (`*.log`) grows to 32 MiB of writes
/// (`MAX_WAL_BYTES`) and is emptied when RocksDB then flushes, whatever retention does:
/// the directory's peak may rise by that much. The rest, the store's tables, may rise by a
/// memtable's worth (16 MiB) as flushes and compactions come and go.
const LOG_SLACK: u64 = 32 * MIB;
const TABLE_SLACK: u64 = 16 * MIB;

/// One sample of the store's directory during the load.
struct Sample {
    at: Duration,
    /// Every file.
    size: u64,
    /// The write-ahead log's files.
    log: u64,
    /// Event bytes acknowledged so far.
    sent: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_stops_growing_under_a_steady_load_once_retention_applies() {
    let dir = tempfile::tempdir().unwrap();
    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let c = inlet.client.clone();
    let receiver = Receiver::start().await;
    let (project, key) = project(&c, "2s", 3).await;
    let endpoint = endpoint(&c, &project, &receiver).await;
    let pad = incompressible(128 << 10);

    let started = Instant::now();
    let sent_bytes = Arc::new(AtomicU64::new(0));
    let mut senders = tokio::task::JoinSet::new();
    for sender in 0..SENDERS {
        let (c, project, key, endpoint, pad) = (
            c.clone(),
            project.clone(),
            key.clone(),
            endpoint.clone(),
            pad.clone(),
        );
        let sent_bytes = sent_bytes.clone();
        senders.spawn(async move {
            let mut n = 0;
            // A steady rate, the same on any machine: how far compactions run behind
            // (the directory's peak) depends on it.
            let mut pace = tokio::time::interval(SEND_EVERY);
            pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while started.elapsed() < LOAD {
                pace.tick().await;
                let body = json!({"endpoint_id": endpoint, "event_type": "load",
                                  "data": {"sender": sender, "n": n, "pad": pad}});
                send_event(&c, &project, &key, body).await;
                sent_bytes.fetch_add(pad.len() as u64, Ordering::Relaxed);
                n += 1;
            }
        });
    }
    let store = dir.path().join("store");
    let mut samples = Vec::new();
    while started.elapsed() < LOAD {
        tokio::time::sleep(Duration::from_millis(500)).await;
        samples.push(Sample {
            at: started.elapsed(),
            size: size_of(&store),
            log: wal_of(&store),
            sent: sent_bytes.load(Ordering::Relaxed),
        });
    }
    while let Some(sender) = senders.join_next().await {
        sender.unwrap();
    }

    let trace: Vec<String> = samples
        .iter()
        .map(|s| {
            let mib = |bytes: u64| bytes / MIB;
            let (at, size, log, sent) = (s.at.as_secs_f64(), mib(s.size), mib(s.log), mib(s.sent));
            format!("{at:.1}s: {size} MiB stored ({log} MiB of log), {sent} MiB sent")
        })
        .collect();
    let trace = trace.join("\n");
    let early: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at >= EARLY.0 && s.at < EARLY.1)
        .collect();
    let late: Vec<&Sample> = samples.iter().filter(|s| s.at >= LATE).collect();
    let peak = |samples: &[&Sample]| samples.iter().map(|s| s.size).max().unwrap();
    let tables = |samples: &[&Sample]| samples.iter().map(|s| s.size - s.log).min().unwrap();
    let sent_after_early = sent_bytes.load(Ordering::Relaxed) - early.last().unwrap().sent;
    // Were nothing removed, the tables would grow by what was sent after the early samples,
    // less what the log and memtables hold: that must be well above the slack, or this
    // shows nothing.
    assert!(
        sent_after_early > LOG_SLACK + 2 * TABLE_SLACK,
        "the load sent only {} MiB after the early samples: too little to tell\n{trace}",
        sent_after_early / MIB
    );
    let (early_tables, late_tables) = (tables(&early), tables(&late));
    assert!(
        late_tables <= early_tables + TABLE_SLACK,
        "the store's tables grew from {} MiB to {} MiB while {} MiB were sent\n{trace}",
        early_tables / MIB,
        late_tables / MIB,
        sent_after_early / MIB
    );
    let (early_peak, late_peak) = (peak(&early), peak(&late));
    assert!(
        late_peak <= early_peak + LOG_SLACK,
        "the store grew from {} MiB to {} MiB while {} MiB were sent\n{trace}",
        early_peak / MIB,
        late_peak / MIB,
        sent_after_early / MIB
    );
    let removed = c
        .metric("inlet_retention_removed_total{kind=\"events\"}")
        .await;
    assert!(removed > 0.0, "no event counted as removed");
    // The load was delivered while it expired.
    assert!(receiver.received().len() as f64 >= removed / 2.0);
}

/// Attempts the failing receiver answers 500 to, a second apart: the delivery retries for
/// about 8 s, four times the project's retention.
const FAILURES: usize = 8;

#[tokio::test]
async fn an_event_whose_delivery_still_retries_is_kept_past_its_retention_until_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let inlet = spawn_inlet(dir.path(), Some(ADMIN_TOKEN), &ALLOW_BROKERS).await;
    let c = &inlet.client;
    let accepting = Receiver::start().await;
    let failing =
        Receiver::scripted(|n| Answer::status(if n < FAILURES { 500 } else { 200 })).await;
    let (project, key) = project(c, "2s", 20).await;
    let accepting_endpoint = endpoint(c, &project, &accepting).await;
    let failing_endpoint = endpoint(c, &project, &failing).await;
    let event = |endpoint: &str| json!({"endpoint_id": endpoint, "event_type": "t", "data": {}});
    let older = send_event(c, &project, &key, event(&accepting_endpoint)).await;
    let retried = send_event(c, &project, &key, event(&failing_endpoint)).await;
    let sent = Instant::now();
    let older = format!("events/{}", older["uid"].as_str().unwrap());
    let retried_id = retried["uid"].as_str().unwrap();
    let retried = format!("events/{retried_id}");

    // What is older goes once expired, while the retried event, as old, stays.
    eventually(10, "the older event to be removed", || async {
        (status_of(c, &project, &older).await == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    // Well past its retention and a sweep, and still retrying.
    tokio::time::sleep(Duration::from_secs(4).saturating_sub(sent.elapsed())).await;
    assert_eq!(status_of(c, &project, &retried).await, StatusCode::OK);
    let pending = deliveries(c, &project, retried_id).await;
    assert_eq!(pending.len(), 1);
    let status = pending[0]["status"].as_str().unwrap();
    assert!(["Scheduled", "Retry"].contains(&status), "{}", pending[0]);
    let delivery = format!("eventdeliveries/{}", pending[0]["uid"].as_str().unwrap());
    assert!(failing.received().len() < FAILURES);

    // Once delivered, it expires like any (the next sweep may remove it before it is seen
    // as a success: then the receiver has had the answer that ended it).
    eventually(20, "the retried delivery to succeed", || async {
        match deliveries(c, &project, retried_id).await.first() {
            Some(delivery) => (delivery["status"] == "Success").then_some(()),
            None => {
                assert!(
                    failing.received().len() > FAILURES,
                    "removed while retrying"
                );
                Some(())
            }
        }
    })
    .await;
    eventually(
        10,
        "the retried event and its delivery to be removed",
        || async {
            let event = status_of(c, &project, &retried).await;
            let delivery = status_of(c, &project, &delivery).await;
            (event == StatusCode::NOT_FOUND && delivery == StatusCode::NOT_FOUND).then_some(())
        },
    )
    .await;
    // Counted once the sweep that removed them is done: both deliveries.
    eventually(10, "two deliveries counted as removed", || async {
        let removed = c
            .metric("inlet_retention_removed_total{kind=\"deliveries\"}")
            .await;
        assert!(removed <= 2.0, "{removed} deliveries removed");
        (removed == 2.0).then_some(())
    })
    .await;
}
