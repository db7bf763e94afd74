//! Ingest and delivery side by side (issue 17): the same load generator as the loopback
//! benchmark (concurrent keep-alive clients posting signed JSON to an HMAC-SHA256 source),
//! in one process with Inlet and a bare HTTP/1 receiver on loopback. First a bare baseline,
//! the same load (same clients, bodies, number of requests and HMAC header, which nothing
//! checks) into two bare hyper servers while Inlet idles, for what the machine allows:
//!
//! - bare server: reads each body and answers 200;
//! - bare relay: reads each body, answers 200 at once and forwards the body in a spawned
//!   task (as Inlet acknowledges before it delivers) with a pooled keep-alive HTTP/1 client
//!   to the receiver, at most [`RELAY_LIMIT`] forwards in flight (Inlet's per-endpoint
//!   limit); the share of the bare server's requests/s that it delivers is the ceiling of
//!   any gateway forwarding every request on these cores.
//!
//! Then Inlet, in three scenarios after an unmeasured warm-up (a tenth of the requests,
//! into the first source; each bare server has its own):
//!
//! 1. ingest only: a source whose project has no subscription, so nothing is delivered;
//! 2. ingest + deliver: the same load into a source with one subscription, each event
//!    delivered once to the receiver; every acknowledged event is waited for;
//! 3. half load: the generator paced to half of scenario 2's ingest rate.
//!
//! Each body carries a sequence number; the generator records when each one was
//! acknowledged and the receiver when it arrived, hence the end-to-end latency
//! acknowledgement → arrival (negative when the delivery came before the client read its
//! acknowledgement).
//!
//! cargo run --release -p inlet-bench --bin deliver -- [REQUESTS] [CONCURRENCY] [BODY_BYTES] [HALF_LOAD_SECS]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use inlet_bench::{
    ADMIN, BareServer, Bench, Http, allow_loopback, hmac_hex, numeric_args, process_cpu_time,
    start_inlet,
};
use serde_json::json;
use tokio::sync::Semaphore;

const SECRET: &str = "bench";
/// The issue's targets: delivered/s at least this share of ingest-only events/s, and the
/// p99 acknowledgement → arrival at half load at most this.
const TARGET_RATIO: f64 = 0.5;
const TARGET_P99_MS: f64 = 50.0;
/// Most forwards in flight in the bare relay: Inlet's limit per endpoint
/// (`inlet_dispatch::PER_ENDPOINT`).
const RELAY_LIMIT: usize = 32;
/// Waiting for arrivals ends when none came for this long.
const ARRIVAL_STALL: Duration = Duration::from_secs(20);
/// How often gauges are sampled during a scenario.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Sampled before and after each scenario; histogram sums and counts give means.
const PROBES: [&str; 6] = [
    "inlet_store_batch_jobs_sum",
    "inlet_store_batch_jobs_count",
    "inlet_store_sync_duration_seconds_sum",
    "inlet_store_sync_duration_seconds_count",
    "inlet_delivery_attempt_duration_seconds_sum",
    "inlet_delivery_attempt_duration_seconds_count",
];
const GAUGES: [&str; 2] = [
    "inlet_deliveries_in_flight",
    "inlet_delivery_oldest_overdue_seconds",
];
const OUTCOMES: [&str; 4] = [
    "inlet_deliveries_total{outcome=\"success\"}",
    "inlet_deliveries_total{outcome=\"retry\"}",
    "inlet_deliveries_total{outcome=\"failure\"}",
    "inlet_deliveries_total{outcome=\"discarded\"}",
];

#[tokio::main]
async fn main() {
    let [requests, concurrency, body_bytes, half_secs] = numeric_args([20_000, 64, 1024, 10]);
    let receiver = Receiver::start().await;
    let bench = start_inlet(|s| {
        s.max_in_flight = concurrency * 2;
        allow_loopback(s);
    })
    .await;

    // Two incoming projects with an HMAC source each; only the second one's is subscribed.
    let (_, unsubscribed) = bench.hmac_source("ingest-only", SECRET).await;
    let (project, routed) = bench.hmac_source("deliver", SECRET).await;
    let endpoint = bench
        .create(
            &format!("/api/v1/projects/{project}/endpoints"),
            ADMIN,
            json!({"url": format!("http://{}/hook", receiver.addr), "name": "receiver"}),
        )
        .await;
    bench
        .create(
            &format!("/api/v1/projects/{project}/subscriptions"),
            ADMIN,
            json!({"name": "all", "endpoint_id": endpoint["uid"], "source_id": routed.0}),
        )
        .await;

    let generator = Generator {
        http: bench.http.clone(),
        pad: Arc::from("x".repeat(body_bytes.saturating_sub(37))),
        concurrency,
        acked: Arc::default(),
    };
    println!(
        "{requests} requests, {concurrency} concurrent clients, {} byte bodies, HMAC-SHA256 source, loopback",
        generator.body(10_000).len()
    );
    let mut first = 0;
    let mut next = |count: usize| {
        let range = (first, count);
        first += count as u64;
        range
    };

    // The bare baseline, Inlet idle; the same path as Inlet's ingest URLs.
    let bare_url = |server: &BareServer| format!("http://{}/ingest/bare", server.addr);
    let bare = BareServer::start(|_| {}).await;
    warm_up(
        &generator,
        &receiver,
        &bare_url(&bare),
        next(requests / 10),
        false,
    )
    .await;
    let bare_server = scenario(
        None,
        &receiver,
        &generator,
        &bare_url(&bare),
        next(requests),
        None,
        false,
    )
    .await;
    drop(bare);
    settle().await;
    let relay = relay(receiver.addr).await;
    warm_up(
        &generator,
        &receiver,
        &bare_url(&relay),
        next(requests / 10),
        true,
    )
    .await;
    let bare_relay = scenario(
        None,
        &receiver,
        &generator,
        &bare_url(&relay),
        next(requests),
        None,
        true,
    )
    .await;
    drop(relay);
    settle().await;

    let url = |mask: &str| format!("{}/ingest/{mask}", bench.base);
    // Opens the clients' connections to Inlet and warms the store up.
    warm_up(
        &generator,
        &receiver,
        &url(&unsubscribed.1),
        next(requests / 10),
        false,
    )
    .await;
    let foreign_before = receiver.unique.load(Ordering::Relaxed);
    let only = scenario(
        Some(&bench),
        &receiver,
        &generator,
        &url(&unsubscribed.1),
        next(requests),
        None,
        false,
    )
    .await;
    let foreign = receiver.unique.load(Ordering::Relaxed) - foreign_before;
    settle().await;
    let both = scenario(
        Some(&bench),
        &receiver,
        &generator,
        &url(&routed.1),
        next(requests),
        None,
        true,
    )
    .await;
    settle().await;
    let half_rate = both.ingest_rate / 2.0;
    let half_count = ((half_rate * half_secs as f64) as usize).max(concurrency);
    let half = scenario(
        Some(&bench),
        &receiver,
        &generator,
        &url(&routed.1),
        next(half_count),
        Some(half_rate),
        true,
    )
    .await;
    settle().await;

    let half_name = format!("half load ({:.0}/s, {half_secs} s)", half_rate);
    let rows = [
        ("bare server", &bare_server),
        ("bare relay", &bare_relay),
        ("ingest only", &only),
        ("ingest + deliver", &both),
        (half_name.as_str(), &half),
    ];
    println!(
        "{:<26} {:>9} {:>7} {:>7} {:>11} {:>8} {:>8} {:>8} {:>8}",
        "scenario",
        "ingest/s",
        "p50 ms",
        "p99 ms",
        "delivered/s",
        "e2e p50",
        "e2e p99",
        "e2e max",
        "missing"
    );
    for (name, report) in rows {
        print!(
            "{name:<26} {:>9.0} {:>7.2} {:>7.2}",
            report.ingest_rate, report.request_ms[0], report.request_ms[1]
        );
        match &report.delivered {
            Some(d) => println!(
                " {:>11.0} {:>8.2} {:>8.2} {:>8.2} {:>8}",
                d.rate,
                d.e2e_ms[0],
                d.e2e_ms[1],
                d.e2e_ms[2],
                d.missing.len()
            ),
            None => println!(" {:>11} {:>8} {:>8} {:>8} {:>8}", "-", "-", "-", "-", "-"),
        }
    }
    println!(
        "(ingest/s: requests acknowledged per second; e2e: acknowledgement → arrival at the \
         receiver, ms; bare rows: hyper alone, no Inlet in the path)"
    );

    println!();
    println!(
        "{:<26} {:>6} {:>9} {:>10} {:>8} {:>10} {:>9} {:>9} {:>9} {:>8} {:>7}",
        "scenario",
        "cores",
        "batches/s",
        "jobs/batch",
        "sync ms",
        "attempt ms",
        "inflight",
        "max infl",
        "max lag",
        "overdue",
        "early"
    );
    for (name, report) in rows {
        let (lag, early) = report
            .delivered
            .as_ref()
            .map_or(("-".to_string(), "-".to_string()), |d| {
                (format!("{}", d.max_backlog), format!("{}", d.early))
            });
        print!("{name:<26} {:>6.2}", report.probe.cores);
        match &report.probe.inlet {
            Some(p) => print!(
                " {:>9.0} {:>10.1} {:>8.2} {:>10.2} {:>9.1} {:>9.0}",
                p.batches_per_s,
                p.jobs_per_batch,
                p.sync_ms,
                p.attempt_ms,
                p.in_flight_mean,
                p.in_flight_max
            ),
            None => print!(
                " {:>9} {:>10} {:>8} {:>10} {:>9} {:>9}",
                "-", "-", "-", "-", "-", "-"
            ),
        }
        let overdue = report
            .probe
            .inlet
            .as_ref()
            .map_or("-".to_string(), |p| format!("{:.0}", p.overdue_max_s));
        println!(" {lag:>9} {overdue:>8} {early:>7}");
    }
    println!(
        "(cores: the process's CPU time over the scenario's wall time; max lag: most events \
         acknowledged and not yet arrived; overdue: oldest due delivery waiting, s; early: \
         arrivals before their acknowledgement)"
    );
    for (name, report) in rows {
        if let Some(d) = &report.delivered {
            println!(
                "{name}: ingest took {:.2} s, arrivals {:.2} s after the first ack; {} not yet arrived when ingest ended",
                report.ingest_secs, d.window_secs, d.backlog_at_ingest_end
            );
            let seconds: Vec<String> = d.per_second.iter().map(usize::to_string).collect();
            println!(
                "  arrivals in each second from the first ack: {}",
                seconds.join(" ")
            );
            if !d.missing.is_empty() || d.duplicates > 0 {
                let shown: Vec<_> = d.missing.iter().take(10).collect();
                println!(
                    "  MISSING {} (first: {shown:?}), duplicates {}",
                    d.missing.len(),
                    d.duplicates
                );
            }
        }
    }
    if foreign > 0 {
        println!("ingest only: {foreign} requests reached the receiver, expected none");
    }
    let outcomes = bench.metrics(&OUTCOMES).await;
    println!(
        "delivery attempts recorded: {} success, {} retry, {} failure, {} discarded",
        outcomes[0], outcomes[1], outcomes[2], outcomes[3]
    );

    println!();
    let delivered = |report: &Report| report.delivered.as_ref().map_or(0.0, |d| d.rate);
    println!(
        "bare relay delivered/s ÷ bare server req/s: {:.2} (the machine's ceiling for forwarding every request)",
        delivered(&bare_relay) / bare_server.ingest_rate
    );
    let ratio = delivered(&both) / only.ingest_rate;
    println!(
        "Inlet delivered/s ÷ ingest-only events/s:   {ratio:.2} (target ≥ {TARGET_RATIO}: {})",
        verdict(ratio >= TARGET_RATIO)
    );
    println!(
        "Inlet delivered/s ÷ bare relay delivered/s: {:.2}",
        delivered(&both) / delivered(&bare_relay)
    );
    let p99 = half
        .delivered
        .as_ref()
        .map_or(f64::INFINITY, |d| d.e2e_ms[1]);
    println!(
        "e2e p99 at half load: {p99:.2} ms (target ≤ {TARGET_P99_MS} ms: {})",
        verdict(p99 <= TARGET_P99_MS)
    );
    bench.server.shutdown().await.unwrap();
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// Lets the delivery worker record what it sent before the next scenario.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What one scenario measured.
struct Report {
    ingest_rate: f64,
    ingest_secs: f64,
    /// Request latency (send → acknowledgement): p50, p99, ms.
    request_ms: [f64; 2],
    delivered: Option<Delivered>,
    probe: Probe,
}

struct Delivered {
    /// Arrivals over the time from the first acknowledgement to the last arrival.
    rate: f64,
    window_secs: f64,
    /// Acknowledgement → arrival: p50, p99, max, ms.
    e2e_ms: [f64; 3],
    missing: Vec<u64>,
    duplicates: usize,
    /// Arrivals before their acknowledgement was read.
    early: usize,
    max_backlog: usize,
    backlog_at_ingest_end: usize,
    /// Arrivals in each second from the first acknowledgement.
    per_second: Vec<usize>,
}

struct Probe {
    cores: f64,
    /// From Inlet's metrics; none for the bare baseline.
    inlet: Option<InletProbe>,
}

struct InletProbe {
    batches_per_s: f64,
    jobs_per_batch: f64,
    sync_ms: f64,
    attempt_ms: f64,
    in_flight_mean: f64,
    in_flight_max: f64,
    overdue_max_s: f64,
}

/// Sends `count` events numbered from `first` (paced to `rate` events/s in all, when
/// given); when `delivered`, waits for every acknowledged one to arrive. With `bench`,
/// Inlet's metrics are sampled too.
async fn scenario(
    bench: Option<&Bench>,
    receiver: &Receiver,
    generator: &Generator,
    url: &str,
    (first, count): (u64, usize),
    rate: Option<f64>,
    delivered: bool,
) -> Report {
    let before = scrape(bench, &PROBES).await;
    let unique_before = receiver.unique.load(Ordering::Relaxed);
    let arrived = || receiver.unique.load(Ordering::Relaxed) - unique_before;
    generator.acked.store(0, Ordering::Relaxed);
    let (started, cpu_before) = (Instant::now(), process_cpu_time());
    let done = AtomicBool::new(false);
    let work = async {
        let acks = generator.drive(url, first, count, rate).await;
        let backlog = count - arrived().min(count);
        if delivered {
            receiver.wait_for(unique_before + count).await;
        }
        done.store(true, Ordering::Relaxed);
        (acks, backlog)
    };
    let sampling = async {
        let (mut samples, mut in_flight_max, mut overdue_max, mut backlog_max) =
            (Vec::new(), 0f64, 0f64, 0);
        while !done.load(Ordering::Relaxed) {
            if let Some([in_flight, overdue]) = scrape(bench, &GAUGES).await.as_deref() {
                samples.push(*in_flight);
                in_flight_max = in_flight_max.max(*in_flight);
                overdue_max = overdue_max.max(*overdue);
            }
            let acked = generator.acked.load(Ordering::Relaxed);
            backlog_max = backlog_max.max(acked.saturating_sub(arrived()));
            tokio::time::sleep(SAMPLE_EVERY).await;
        }
        let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
        (mean, in_flight_max, overdue_max, backlog_max)
    };
    let (
        (acks, backlog_at_ingest_end),
        (in_flight_mean, in_flight_max, overdue_max_s, max_backlog),
    ) = tokio::join!(work, sampling);
    let wall = started.elapsed().as_secs_f64();
    let cpu = (process_cpu_time() - cpu_before).as_secs_f64();
    let after = scrape(bench, &PROBES).await;
    let per = |sum: f64, n: f64| if n > 0.0 { sum / n } else { 0.0 };
    let probe = Probe {
        cores: cpu / wall,
        inlet: after.zip(before).map(|(after, before)| {
            let delta: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
            InletProbe {
                batches_per_s: delta[1] / wall,
                jobs_per_batch: per(delta[0], delta[1]),
                sync_ms: per(delta[2], delta[3]) * 1000.0,
                attempt_ms: per(delta[4], delta[5]) * 1000.0,
                in_flight_mean,
                in_flight_max,
                overdue_max_s,
            }
        }),
    };

    let last_ack = acks.acked.iter().max().copied().unwrap();
    let ingest_secs = (last_ack - acks.started).as_secs_f64();
    let mut latencies = acks.latencies.clone();
    latencies.sort_by(f64::total_cmp);
    let delivered = delivered.then(|| {
        let (arrivals, duplicates) = receiver.arrivals(first, count);
        let first_ack = acks.acked.iter().min().copied().unwrap();
        let mut e2e = Vec::with_capacity(count);
        let mut missing = Vec::new();
        let (mut early, mut last_arrival) = (0, first_ack);
        let mut per_second = Vec::new();
        for (i, (ack, arrival)) in acks.acked.iter().zip(&arrivals).enumerate() {
            match arrival {
                Some(arrival) => {
                    last_arrival = last_arrival.max(*arrival);
                    let second = arrival.saturating_duration_since(first_ack).as_secs() as usize;
                    if per_second.len() <= second {
                        per_second.resize(second + 1, 0);
                    }
                    per_second[second] += 1;
                    e2e.push(if arrival >= ack {
                        (*arrival - *ack).as_secs_f64() * 1000.0
                    } else {
                        early += 1;
                        -(*ack - *arrival).as_secs_f64() * 1000.0
                    });
                }
                None => missing.push(first + i as u64),
            }
        }
        e2e.sort_by(f64::total_cmp);
        let window_secs = (last_arrival - first_ack).as_secs_f64();
        Delivered {
            rate: e2e.len() as f64 / window_secs,
            window_secs,
            e2e_ms: [
                quantile(&e2e, 0.5),
                quantile(&e2e, 0.99),
                e2e.last().copied().unwrap_or(f64::NAN),
            ],
            missing,
            duplicates,
            early,
            max_backlog,
            backlog_at_ingest_end,
            per_second,
        }
    });
    Report {
        ingest_rate: count as f64 / ingest_secs,
        ingest_secs,
        request_ms: [quantile(&latencies, 0.5), quantile(&latencies, 0.99)],
        delivered,
        probe,
    }
}

/// These samples from one scrape of Inlet's `/metrics`, when there is an Inlet to scrape.
async fn scrape(bench: Option<&Bench>, samples: &[&str]) -> Option<Vec<f64>> {
    match bench {
        Some(bench) => Some(bench.metrics(samples).await),
        None => None,
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// Concurrent keep-alive clients posting HMAC-signed JSON, each body numbered.
struct Generator {
    http: Http,
    pad: Arc<str>,
    concurrency: usize,
    /// Acknowledged so far in the current scenario.
    acked: Arc<AtomicUsize>,
}

struct Acks {
    started: Instant,
    /// By sequence number from the scenario's first.
    acked: Vec<Instant>,
    /// Send → acknowledgement, ms.
    latencies: Vec<f64>,
}

impl Generator {
    /// The sequence number first, where the receiver finds it without parsing.
    fn body(&self, seq: u64) -> Bytes {
        Bytes::from(format!(
            r#"{{"seq":{seq},"type":"bench","pad":"{}"}}"#,
            self.pad
        ))
    }

    async fn drive(&self, url: &str, first: u64, count: usize, rate: Option<f64>) -> Acks {
        let started = Instant::now();
        let start = tokio::time::Instant::from_std(started);
        // Each client's share of the rate, its requests spread evenly and the clients'
        // schedules staggered; a client that falls behind catches up without waiting.
        let interval = rate.map(|r| Duration::from_secs_f64(self.concurrency as f64 / r));
        let mut clients = Vec::new();
        for client in 0..self.concurrency {
            let (http, url, acked) = (self.http.clone(), url.to_string(), self.acked.clone());
            let bodies: Vec<(usize, Bytes)> = (client..count)
                .step_by(self.concurrency)
                .map(|i| (i, self.body(first + i as u64)))
                .collect();
            let offset = interval.map(|i| i.mul_f64(client as f64 / self.concurrency as f64));
            clients.push(tokio::spawn(async move {
                let mut out = Vec::with_capacity(bodies.len());
                for (k, (i, body)) in bodies.into_iter().enumerate() {
                    if let (Some(interval), Some(offset)) = (interval, offset) {
                        tokio::time::sleep_until(start + offset + interval * k as u32).await;
                    }
                    let request = Request::builder()
                        .method(Method::POST)
                        .uri(&url)
                        .header("x-sig", hmac_hex(SECRET, &body))
                        .header("content-type", "application/json")
                        .body(Full::new(body))
                        .unwrap();
                    let sent = Instant::now();
                    let response = http.request(request).await.unwrap();
                    let status = response.status();
                    response.into_body().collect().await.unwrap();
                    let ack = Instant::now();
                    assert!(status.is_success(), "{url}: {status}");
                    acked.fetch_add(1, Ordering::Relaxed);
                    out.push((i, ack, (ack - sent).as_secs_f64() * 1000.0));
                }
                out
            }));
        }
        let mut acked = vec![started; count];
        let mut latencies = Vec::with_capacity(count);
        for client in clients {
            for (i, ack, latency) in client.await.unwrap() {
                acked[i] = ack;
                latencies.push(latency);
            }
        }
        Acks {
            started,
            acked,
            latencies,
        }
    }
}

/// The bare relay: a [`BareServer`] that forwards each body to `target` in a spawned task,
/// after answering, with a pooled keep-alive HTTP/1 client, at most [`RELAY_LIMIT`]
/// forwards in flight; what failed to forward is missing at the receiver.
async fn relay(target: SocketAddr) -> BareServer {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector);
    let uri: Arc<str> = Arc::from(format!("http://{target}/hook"));
    let permits = Arc::new(Semaphore::new(RELAY_LIMIT));
    BareServer::start(move |body| {
        let (client, uri, permits) = (client.clone(), uri.clone(), permits.clone());
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.unwrap();
            let request = Request::builder()
                .method(Method::POST)
                .uri(&*uri)
                .header("content-type", "application/json")
                .body(Full::new(body))
                .unwrap();
            let forwarded = match client.request(request).await {
                Ok(response) => response.into_body().collect().await.map(drop),
                Err(error) => {
                    eprintln!("bare relay: {error}");
                    return;
                }
            };
            if let Err(error) = forwarded {
                eprintln!("bare relay: {error}");
            }
        });
    })
    .await
}

/// Unmeasured: sends `count` events from `first`, opening the clients' connections (and
/// warming Inlet's store up); when they are `delivered`, waits for them to arrive, so that
/// none arrives in the next scenario.
async fn warm_up(
    generator: &Generator,
    receiver: &Receiver,
    url: &str,
    (first, count): (u64, usize),
    delivered: bool,
) {
    let unique = receiver.unique.load(Ordering::Relaxed);
    generator.drive(url, first, count, None).await;
    if delivered {
        receiver.wait_for(unique + count).await;
    }
}

/// A bare [`BareServer`] that notes when each sequence number first arrived.
struct Receiver {
    addr: SocketAddr,
    arrivals: Arc<Mutex<HashMap<u64, Instant>>>,
    /// Distinct sequence numbers arrived.
    unique: Arc<AtomicUsize>,
    duplicates: Arc<AtomicUsize>,
    _server: BareServer,
}

impl Receiver {
    async fn start() -> Self {
        let arrivals: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
        let unique: Arc<AtomicUsize> = Arc::default();
        let duplicates: Arc<AtomicUsize> = Arc::default();
        let (seen, first, again) = (arrivals.clone(), unique.clone(), duplicates.clone());
        let server = BareServer::start(move |body| {
            let at = Instant::now();
            let seq = sequence_number(&body).expect("a benchmark body");
            if seen.lock().unwrap().insert(seq, at).is_some() {
                again.fetch_add(1, Ordering::Relaxed);
            } else {
                first.fetch_add(1, Ordering::Relaxed);
            }
        })
        .await;
        Self {
            addr: server.addr,
            arrivals,
            unique,
            duplicates,
            _server: server,
        }
    }

    /// Waits until `unique` distinct events arrived in all, or none arrived for
    /// [`ARRIVAL_STALL`].
    async fn wait_for(&self, unique: usize) {
        let (mut seen, mut progress) = (0, Instant::now());
        loop {
            let now = self.unique.load(Ordering::Relaxed);
            if now >= unique {
                return;
            }
            if now > seen {
                (seen, progress) = (now, Instant::now());
            } else if progress.elapsed() > ARRIVAL_STALL {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// When each of `count` events from `first` arrived; and the duplicates so far.
    fn arrivals(&self, first: u64, count: usize) -> (Vec<Option<Instant>>, usize) {
        let arrivals = self.arrivals.lock().unwrap();
        let at = (first..first + count as u64)
            .map(|seq| arrivals.get(&seq).copied())
            .collect();
        (at, self.duplicates.load(Ordering::Relaxed))
    }
}

/// The `seq` of a body `{"seq":N,...`.
fn sequence_number(body: &[u8]) -> Option<u64> {
    let digits = body.strip_prefix(br#"{"seq":"#)?;
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    std::str::from_utf8(&digits[..end]).ok()?.parse().ok()
}
