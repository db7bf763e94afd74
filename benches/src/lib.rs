//! What the benchmark programs share: an in-process Inlet on a temporary data directory
//! and a small HTTP client for its API.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use inlet::config::Settings;
use inlet::server::RunningServer;
use inlet_model::outbound::AllowList;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const ADMIN: &str = "bench-admin-token-of-at-least-32-bytes";

pub type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// The positional numeric arguments, each with its default when absent.
pub fn numeric_args<const N: usize>(defaults: [usize; N]) -> [usize; N] {
    let given: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are numbers"))
        .collect();
    std::array::from_fn(|i| given.get(i).copied().unwrap_or(defaults[i]))
}

/// Inlet's HTTP API at `base`, in this process or another.
pub struct Api {
    pub base: String,
    pub http: Http,
}

/// An in-process Inlet and its API.
pub struct Bench {
    pub server: RunningServer,
    api: Api,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Bench {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// Lets Inlet connect to loopback, where the benchmarks' brokers and receivers listen
/// (outgoing connections are refused by default).
pub fn allow_loopback(settings: &mut Settings) {
    settings.allow_outbound = AllowList::parse(["127.0.0.1"]).unwrap();
}

/// Starts Inlet on loopback with RocksDB in a temporary directory.
pub async fn start_inlet(configure: impl FnOnce(&mut Settings)) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_data_dir(dir.path());
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.admin_token = Some(ADMIN.into());
    configure(&mut settings);
    let server = inlet::server::start(settings).await.unwrap();
    Bench {
        api: Api::new(format!("http://{}", server.addr)),
        server,
        _dir: dir,
    }
}

impl Api {
    pub fn new(base: String) -> Self {
        Self {
            base,
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// POSTs a JSON body with a bearer token; expects 201 and returns `data`.
    pub async fn create(&self, path: &str, token: &str, body: Value) -> Value {
        let request = Request::builder()
            .method(Method::POST)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = self.http.request(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        serde_json::from_slice::<Value>(&bytes).unwrap()["data"].clone()
    }

    /// An incoming project with an HMAC-SHA256 source (`X-Sig`, hex) under `secret`, both
    /// named `name`: the project's uid and the source's (uid, mask_id).
    pub async fn hmac_source(&self, name: &str, secret: &str) -> (String, (String, String)) {
        let project = self
            .create(
                "/api/v1/projects",
                ADMIN,
                json!({"name": name, "type": "incoming"}),
            )
            .await;
        let project = project["uid"].as_str().unwrap().to_string();
        let source = self
            .create(
                &format!("/api/v1/projects/{project}/sources"),
                ADMIN,
                json!({"name": name, "type": "http", "verifier": {"type": "hmac", "hmac":
                    {"header": "X-Sig", "hash": "SHA256", "encoding": "hex", "secret": secret}}}),
            )
            .await;
        let uid = source["uid"].as_str().unwrap().to_string();
        let mask = source["mask_id"].as_str().unwrap().to_string();
        (project, (uid, mask))
    }

    /// Creates an outgoing project with a `pub_sub` source of this configuration (Convoy's
    /// `pub_sub` object); returns the source's uid.
    pub async fn pub_sub_source(&self, pub_sub: Value) -> String {
        let project = self
            .create(
                "/api/v1/projects",
                ADMIN,
                json!({"name": "bench", "type": "outgoing"}),
            )
            .await;
        let sources = format!(
            "/api/v1/projects/{}/sources",
            project["uid"].as_str().unwrap()
        );
        let source = self
            .create(
                &sources,
                ADMIN,
                json!({"name": "bench", "type": "pub_sub", "pub_sub": pub_sub}),
            )
            .await;
        source["uid"].as_str().unwrap().to_string()
    }

    /// Messages per second a source stores, timed from its first stored message to its
    /// `messages`th, so that connecting (the same for any consumer) is not counted.
    pub async fn drain_rate(&self, source: &str, messages: usize) -> f64 {
        let accepted = format!("inlet_events_accepted_total{{source=\"{source}\"}}");
        let mut first = None;
        loop {
            let stored = self.metric(&accepted).await as usize;
            if stored > 0 && first.is_none() {
                first = Some((Instant::now(), stored));
            }
            if stored >= messages {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let (first_at, first_count) = first.unwrap();
        (messages - first_count) as f64 / first_at.elapsed().as_secs_f64()
    }

    /// A sample's value from `/metrics` (0 when absent).
    pub async fn metric(&self, sample: &str) -> f64 {
        let uri = format!("{}/metrics", self.base);
        let response = self.http.get(uri.parse().unwrap()).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8_lossy(&bytes)
            .lines()
            .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Several samples' values from one scrape of `/metrics` (0 for each one absent).
    pub async fn metrics(&self, samples: &[&str]) -> Vec<f64> {
        let uri = format!("{}/metrics", self.base);
        let response = self.http.get(uri.parse().unwrap()).await.unwrap();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        samples
            .iter()
            .map(|sample| {
                text.lines()
                    .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
                    .unwrap_or(0.0)
            })
            .collect()
    }
}

/// A body's HMAC-SHA256 under `secret`, in hex: what a provider signing webhooks sends.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The calling process's CPU time (every thread), from its start.
pub fn process_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) };
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// A bare HTTP/1 server on loopback: reads each request's body, hands it to `handle`, and
/// answers 200 with an empty body.
pub struct BareServer {
    pub addr: SocketAddr,
    serving: tokio::task::JoinHandle<()>,
}

impl BareServer {
    pub async fn start(handle: impl Fn(Bytes) + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = Arc::new(handle);
        let serving = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                let handle = handle.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |request: Request<hyper::body::Incoming>| {
                            let handle = handle.clone();
                            async move {
                                handle(request.into_body().collect().await?.to_bytes());
                                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::new())))
                            }
                        },
                    );
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Self { addr, serving }
    }
}

impl Drop for BareServer {
    /// Stops accepting; open connections are served until their clients close them.
    fn drop(&mut self) {
        self.serving.abort();
    }
}
