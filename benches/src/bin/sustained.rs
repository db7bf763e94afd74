//! Sustained ingest: the release `inlet` binary, as a child process, under a paced load for
//! minutes, and what it costs as its store grows.
//!
//! cargo build --release -p inlet-bench -p inlet --bins && target/release/sustained [SECONDS] [PERCENT] [CLIENTS]
//!
//! 1. idle: the server's RSS once it has started and has one HMAC source;
//! 2. maximum: HMAC-signed 1 KiB webhooks from CLIENTS keep-alive connections, each sent as
//!    soon as the last was answered, for 15 s;
//! 3. paced: PERCENT of that maximum for SECONDS (defaults 80 % and 600 s), each request due
//!    at a fixed time and its latency counted from then, so that a stall counts against
//!    every request it holds up; per minute: events/s, p50/p99/max, the highest RSS, disk;
//! 4. listing: the newest page (20) of the source's events, and of the project's, 100 times
//!    each, with everything the run stored;
//! 5. disk: bytes per stored event in RocksDB's tables before and after a full compaction
//!    (with the server stopped, RocksDB opened with its own saved options).
//!
//! The bodies are 4096 distinct JSON documents shaped like a provider's webhook (ids,
//! hashes, amounts, addresses, text), cycled: one padded body repeated would compress to
//! nothing and flatter the disk figure. The data directory is made under `INLET_BENCH_DIR`
//! (default: the system's temporary directory); 10 minutes at 16k events/s need ~20 GB.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use inlet_bench::{ADMIN, Api, hmac_hex, numeric_args};
use serde_json::{Value, json};

const SECRET: &str = "bench";
const BODIES: usize = 4096;
const BODY_BYTES: usize = 1024;
const MAXIMUM_PHASE: Duration = Duration::from_secs(15);
const LISTINGS: usize = 100;
const MINUTE: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() {
    let [seconds, percent, clients] = numeric_args([600, 80, 64]);
    let parent = std::env::var_os("INLET_BENCH_DIR").map_or_else(std::env::temp_dir, PathBuf::from);
    let dir = tempfile::tempdir_in(parent).unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data, &dir.path().join("inlet.log")).await;
    let (project, (source, mask)) = server.api.hmac_source("sustained", SECRET).await;
    let load = Load::new(format!("{}/ingest/{mask}", server.api.base));

    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "idle: RSS {:.0} MiB ({} bodies of {BODY_BYTES} bytes, {clients} clients)",
        server.rss_mib(),
        BODIES
    );

    let maximum = load.run(&server.api, clients, MAXIMUM_PHASE, None).await;
    let max_rate =
        maximum.iter().map(|m| m.count()).sum::<usize>() as f64 / MAXIMUM_PHASE.as_secs_f64();
    println!("maximum: {max_rate:.0} events/s over {MAXIMUM_PHASE:?}");

    let rate = max_rate * percent as f64 / 100.0;
    let duration = Duration::from_secs(seconds as u64);
    println!("paced: {rate:.0} events/s ({percent} % of the maximum) for {duration:?}");
    println!(
        "{:>6} {:>10} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7}",
        "minute", "events/s", "p50 ms", "p99 ms", "max ms", "RSS MiB", "disk GiB", "errors"
    );
    let watch = Watch::start(server.pid(), data.clone());
    let minutes = load.run(&server.api, clients, duration, Some(rate)).await;
    let watched = watch.stop();
    for (n, minute) in minutes.iter().enumerate() {
        let span = duration.saturating_sub(MINUTE * n as u32).min(MINUTE);
        let (rss, disk) = watched.get(n).copied().unwrap_or_default();
        println!(
            "{:>6} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>9.0} {:>9.2} {:>7}",
            n + 1,
            minute.count() as f64 / span.as_secs_f64(),
            minute.quantile_ms(0.5),
            minute.quantile_ms(0.99),
            minute.quantile_ms(1.0),
            rss,
            disk as f64 / (1u64 << 30) as f64,
            minute.errors,
        );
    }
    let stored = server
        .api
        .metric(&format!(
            "inlet_events_accepted_total{{source=\"{source}\"}}"
        ))
        .await as u64;
    println!("stored: {stored} events");

    for (what, path) in [
        (
            "source",
            format!("/api/v1/projects/{project}/events?sourceId={source}&perPage=20"),
        ),
        (
            "project",
            format!("/api/v1/projects/{project}/events?perPage=20"),
        ),
    ] {
        let (p50, p99, max) = listing(&server.api, &path).await;
        println!(
            "listing the newest page of the {what}'s {stored} events: p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
        );
    }

    let store = data.join("store");
    let before = table_bytes(&store);
    server.stop();
    let started = Instant::now();
    compact(&store);
    let after = table_bytes(&store);
    let per_event = |bytes: u64| bytes as f64 / stored.max(1) as f64;
    println!(
        "disk: {:.0} bytes per event in tables before compaction, {:.0} after ({:.1} GiB, compacted in {:.0} s)",
        per_event(before),
        per_event(after),
        after as f64 / (1u64 << 30) as f64,
        started.elapsed().as_secs_f64(),
    );
}

/// The `inlet` binary beside this one, serving a data directory on a free loopback port.
struct Server {
    child: Child,
    api: Api,
}

impl Server {
    async fn start(data: &Path, log: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let exe = std::env::current_exe().unwrap().with_file_name("inlet");
        let child = Command::new(&exe)
            .arg("serve")
            .arg("--data-dir")
            .arg(data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("INLET_ADMIN_TOKEN", ADMIN)
            .stdout(Stdio::null())
            .stderr(File::create(log).unwrap())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e} (build it: cargo build --release -p inlet)",
                    exe.display()
                )
            });
        let api = Api::new(format!("http://127.0.0.1:{port}"));
        let up = Instant::now();
        let ready = format!("{}/readyz", api.base);
        while !api
            .http
            .get(ready.parse().unwrap())
            .await
            .is_ok_and(|r| r.status() == StatusCode::OK)
        {
            assert!(
                up.elapsed() < Duration::from_secs(60),
                "inlet did not start: see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, api }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_mib(&self) -> f64 {
        rss_mib(self.pid())
    }

    /// Stops the server as an operator would (SIGTERM) and waits for it to exit.
    fn stop(mut self) {
        // SAFETY: kill only sends a signal to the child this struct started.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap();
    }
}

/// A process's resident memory (`VmRSS`), in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The signed requests the clients send, and where.
struct Load {
    url: String,
    bodies: Arc<Vec<(Bytes, String)>>,
}

/// The latencies of the requests due in one minute, and how many failed.
#[derive(Default)]
struct Minute {
    micros: Vec<u32>,
    errors: u64,
}

impl Minute {
    fn count(&self) -> usize {
        self.micros.len()
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        let Some(last) = self.micros.len().checked_sub(1) else {
            return 0.0;
        };
        self.micros[((last as f64) * q) as usize] as f64 / 1000.0
    }

    fn merge(&mut self, other: Minute) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
    }
}

impl Load {
    fn new(url: String) -> Self {
        let mut rng = fastrand::Rng::with_seed(7);
        let bodies = (0..BODIES)
            .map(|n| {
                let body = webhook(n, &mut rng);
                let signature = hmac_hex(SECRET, body.as_bytes());
                (Bytes::from(body), signature)
            })
            .collect();
        Self {
            url,
            bodies: Arc::new(bodies),
        }
    }

    /// Sends from `clients` connections for `duration`: each request as soon as the
    /// client's last was answered, or, given a rate, at its due time. By minute.
    async fn run(
        &self,
        api: &Api,
        clients: usize,
        duration: Duration,
        rate: Option<f64>,
    ) -> Vec<Minute> {
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (http, url, bodies, next) = (
                api.http.clone(),
                self.url.clone(),
                self.bodies.clone(),
                next.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut minutes: Vec<Minute> = Vec::new();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let due = match rate {
                        Some(rate) => started + Duration::from_secs_f64(n as f64 / rate),
                        None => Instant::now(),
                    };
                    let at = due - started;
                    if at >= duration {
                        break minutes;
                    }
                    tokio::time::sleep_until(due.into()).await;
                    let (body, signature) = &bodies[n as usize % bodies.len()];
                    let request = Request::builder()
                        .method(Method::POST)
                        .uri(&url)
                        .header("x-sig", signature)
                        .header("content-type", "application/json")
                        .body(Full::new(body.clone()))
                        .unwrap();
                    let answered = match http.request(request).await {
                        Ok(response) => {
                            let ok = response.status().is_success();
                            ok && response.into_body().collect().await.is_ok()
                        }
                        Err(_) => false,
                    };
                    let minute = (at.as_secs() / 60) as usize;
                    if minutes.len() <= minute {
                        minutes.resize_with(minute + 1, Minute::default);
                    }
                    if answered {
                        minutes[minute]
                            .micros
                            .push(due.elapsed().as_micros() as u32);
                    } else {
                        minutes[minute].errors += 1;
                    }
                }
            }));
        }
        let mut all: Vec<Minute> = Vec::new();
        for task in tasks {
            for (n, minute) in task.await.unwrap().into_iter().enumerate() {
                if all.len() <= n {
                    all.resize_with(n + 1, Minute::default);
                }
                all[n].merge(minute);
            }
        }
        for minute in &mut all {
            minute.micros.sort_unstable();
        }
        all
    }
}

/// A provider-like webhook of about [`BODY_BYTES`]: varied ids, hashes, amounts, text.
fn webhook(n: usize, rng: &mut fastrand::Rng) -> String {
    const WORDS: [&str; 16] = [
        "order", "shipped", "customer", "payment", "refund", "invoice", "express", "parcel",
        "blue", "large", "gift", "wrap", "note", "please", "leave", "door",
    ];
    let hex = |rng: &mut fastrand::Rng, len: usize| -> String {
        (0..len)
            .map(|_| char::from_digit(rng.u32(0..16), 16).unwrap())
            .collect()
    };
    let items: Vec<Value> = (0..rng.usize(1..4))
        .map(|_| {
            json!({"sku": format!("SKU-{}", rng.u32(10_000..99_999)), "quantity": rng.u32(1..9),
                   "unit_amount": rng.u32(100..50_000), "title": WORDS[rng.usize(..WORDS.len())]})
        })
        .collect();
    let mut event = json!({
        "id": format!("evt_{}", hex(rng, 24)),
        "type": "order.updated",
        "created": 1_764_650_000 + n,
        "livemode": true,
        "data": {"object": {
            "id": format!("ord_{}", hex(rng, 24)),
            "amount": rng.u32(100..1_000_000),
            "currency": "usd",
            "commit": hex(rng, 40),
            "customer": {"id": format!("cus_{}", hex(rng, 14)),
                         "email": format!("customer{}@example.com", rng.u32(..))},
            "items": items,
            "shipping": {"line1": format!("{} Market Street", rng.u32(1..9_999)),
                         "city": "San Francisco", "postal_code": format!("94{:03}", rng.u32(0..1000)),
                         "country": "US"},
        }},
    });
    let mut note = String::new();
    while event.to_string().len() + note.len() + 12 < BODY_BYTES {
        note.push_str(WORDS[rng.usize(..WORDS.len())]);
        note.push(' ');
    }
    event["data"]["object"]["note"] = note.trim_end().into();
    event.to_string()
}

/// Samples the server's RSS every second and its data directory's size every ten: per
/// minute, the highest RSS (MiB) and the last size (bytes).
struct Watch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(f64, u64)>>,
}

impl Watch {
    fn start(pid: u32, data: PathBuf) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let mut samples = Vec::<(f64, u64)>::new();
            let mut tick = 0u64;
            while !stopped.load(Ordering::Relaxed) {
                let minute = (started.elapsed().as_secs() / 60) as usize;
                if samples.len() <= minute {
                    let last = samples.last().map_or(0, |s| s.1);
                    samples.resize(minute + 1, (0.0, last));
                }
                let rss = rss_mib(pid);
                samples[minute].0 = samples[minute].0.max(rss);
                if tick.is_multiple_of(10) {
                    samples[minute].1 = dir_bytes(&data.join("store"), |_| true);
                }
                tick += 1;
                std::thread::sleep(Duration::from_secs(1));
            }
            samples
        });
        Self { stop, thread }
    }

    fn stop(self) -> Vec<(f64, u64)> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// The bytes of a directory's files (not descending) whose names pass `keep`.
fn dir_bytes(dir: &Path, keep: impl Fn(&str) -> bool) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| keep(&e.file_name().to_string_lossy()))
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// What RocksDB's tables hold: the `.sst` files of the store's directory.
fn table_bytes(store: &Path) -> u64 {
    dir_bytes(store, |name| name.ends_with(".sst"))
}

/// p50, p99 and max in ms of [`LISTINGS`] GETs of `path`, each checked to be a full page.
async fn listing(api: &Api, path: &str) -> (f64, f64, f64) {
    let mut ms = Vec::with_capacity(LISTINGS);
    for _ in 0..LISTINGS {
        let request = Request::builder()
            .uri(format!("{}{path}", api.base))
            .header("authorization", format!("Bearer {ADMIN}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let started = Instant::now();
        let response = api.http.request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let page: Value =
            serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes())
                .unwrap();
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(
            page["data"]["content"].as_array().map(Vec::len),
            Some(20),
            "{path}"
        );
    }
    ms.sort_by(f64::total_cmp);
    (ms[LISTINGS / 2], ms[LISTINGS * 99 / 100], ms[LISTINGS - 1])
}

/// Compacts every column family of the stopped server's store, opened with the options it
/// saved (its compression included).
fn compact(store: &Path) {
    let (options, families) = rocksdb::Options::load_latest(
        store,
        rocksdb::Env::new().unwrap(),
        true,
        rocksdb::Cache::new_lru_cache(8 << 20),
    )
    .unwrap();
    let names: Vec<String> = families.iter().map(|f| f.name().to_string()).collect();
    let db = rocksdb::DB::open_cf_descriptors(&options, store, families).unwrap();
    for name in &names {
        db.compact_range_cf(db.cf_handle(name).unwrap(), None::<&[u8]>, None::<&[u8]>);
    }
}
