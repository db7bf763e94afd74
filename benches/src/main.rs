//! Load generator: starts Inlet in-process on a temporary data directory and drives it over
//! loopback HTTP with concurrent clients, then prints throughput and latency per scenario.
//!
//! cargo run --release -p inlet-bench -- [REQUESTS] [CONCURRENCY] [BODY_BYTES]
//!
//! The first scenario is the baseline: a bare hyper server in the same process that reads
//! each body and answers 200, driven by the same generator while Inlet idles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use serde_json::{Value, json};

type Headers = Vec<(&'static str, String)>;
use inlet_bench::{ADMIN, BareServer, Http, hmac_hex, numeric_args, start_inlet};

const BARE: &str = "bare hyper";
const HMAC: &str = "ingest hmac-sha256";
const PLUGIN: &str = "ingest github plugin";

#[tokio::main]
async fn main() {
    let [requests, concurrency, body_bytes] = numeric_args([20_000, 64, 1024]);

    let bench = start_inlet(|s| s.max_in_flight = concurrency * 2).await;
    let (base, http) = (bench.base.clone(), bench.http.clone());
    let base_of = |path: String| format!("{base}{path}");

    let payload =
        json!({"type": "bench", "pad": "x".repeat(body_bytes.saturating_sub(40))}).to_string();
    let payload = Bytes::from(payload);
    println!(
        "{requests} requests, {concurrency} concurrent clients, {} byte bodies, loopback",
        payload.len()
    );
    println!(
        "{:<22} {:>10} {:>10} {:>10} {:>10}",
        "scenario", "req/s", "p50 ms", "p99 ms", "max ms"
    );

    let incoming = bench
        .create(
            "/api/v1/projects",
            ADMIN,
            json!({"name": "in", "type": "incoming"}),
        )
        .await;
    let project = incoming["uid"].as_str().unwrap().to_string();
    let sources = format!("/api/v1/projects/{project}/sources");
    let noop = bench
        .create(
            &sources,
            ADMIN,
            json!({"name": "noop", "type": "http", "verifier": {"type": "noop"}}),
        )
        .await;
    let hmac = bench.create(&sources, ADMIN, json!({"name": "hmac", "type": "http",
        "verifier": {"type": "hmac", "hmac": {"header": "X-Sig", "hash": "SHA256", "encoding": "hex", "secret": "bench"}}})).await;
    let github = bench
        .create(
            &sources,
            ADMIN,
            json!({"name": "gh", "type": "http", "provider": "github",
        "verifier": {"type": "hmac", "hmac": {"secret": "bench"}}}),
        )
        .await;
    let outgoing = bench
        .create(
            "/api/v1/projects",
            ADMIN,
            json!({"name": "out", "type": "outgoing"}),
        )
        .await;
    let key = outgoing["api_key"].as_str().unwrap().to_string();
    let rest_path = format!(
        "/api/v1/projects/{}/events",
        outgoing["uid"].as_str().unwrap()
    );
    let signature = hmac_hex("bench", &payload);
    let rest_body = Bytes::from(
        json!({"owner_id": "bench", "event_type": "bench", "data": serde_json::from_slice::<Value>(&payload).unwrap()}).to_string(),
    );

    // The baseline: hyper alone reading each body and answering 200, in the same process and
    // under the same generator, with Inlet idle.
    let bare = BareServer::start(|_| {}).await;
    let bare_base = format!("http://{}", bare.addr);
    let scenarios: Vec<(&str, String, Headers, Bytes)> = vec![
        (
            BARE,
            format!("{bare_base}/ingest/bare"),
            vec![("x-sig", signature.clone())],
            payload.clone(),
        ),
        (
            "ingest noop",
            base_of(ingest_path(&noop)),
            vec![],
            payload.clone(),
        ),
        (
            HMAC,
            base_of(ingest_path(&hmac)),
            vec![("x-sig", signature.clone())],
            payload.clone(),
        ),
        (
            PLUGIN,
            base_of(ingest_path(&github)),
            vec![
                ("x-hub-signature-256", format!("sha256={signature}")),
                ("x-github-event", "push".into()),
            ],
            payload.clone(),
        ),
        (
            "rest api event",
            base_of(rest_path),
            vec![
                ("authorization", format!("Bearer {key}")),
                ("content-type", "application/json".into()),
            ],
            rest_body,
        ),
    ];
    let mut rates = std::collections::HashMap::new();
    for (name, url, headers, body) in scenarios {
        let report = drive(&http, &url, Arc::new(headers), body, requests, concurrency).await;
        println!(
            "{name:<22} {:>10.0} {:>10.2} {:>10.2} {:>10.2}",
            report.0, report.1, report.2, report.3
        );
        rates.insert(name, report.0);
    }
    println!(
        "ratio hmac-sha256 / bare hyper: {:.2} (target >= 0.6)",
        rates[HMAC] / rates[BARE]
    );
    println!(
        "ratio github plugin / hmac-sha256: {:.2} (target >= 0.85)",
        rates[PLUGIN] / rates[HMAC]
    );
    bench.server.shutdown().await.unwrap();
}

fn ingest_path(source: &Value) -> String {
    format!("/ingest/{}", source["mask_id"].as_str().unwrap())
}

/// Sends `total` requests from `concurrency` clients; returns (req/s, p50, p99, max) in ms.
async fn drive(
    http: &Http,
    url: &str,
    headers: Arc<Headers>,
    body: Bytes,
    total: usize,
    concurrency: usize,
) -> (f64, f64, f64, f64) {
    let started = Instant::now();
    let mut clients = Vec::new();
    for client in 0..concurrency {
        let (http, url, headers, body) =
            (http.clone(), url.to_string(), headers.clone(), body.clone());
        let share = total / concurrency + usize::from(client < total % concurrency);
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                let mut request = Request::builder().method(Method::POST).uri(&url);
                for (name, value) in headers.iter() {
                    request = request.header(*name, value);
                }
                let sent = Instant::now();
                let response = http
                    .request(request.body(Full::new(body.clone())).unwrap())
                    .await
                    .unwrap();
                let status = response.status();
                response.into_body().collect().await.unwrap();
                assert!(status.is_success(), "{url}: {status}");
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies: Vec<Duration> = Vec::with_capacity(total);
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at =
        |q: f64| ms(latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)]);
    (
        total as f64 / elapsed,
        at(0.5),
        at(0.99),
        ms(*latencies.last().unwrap()),
    )
}
