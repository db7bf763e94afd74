//! What the benchmark programs share: an in-process Inlet on a temporary data directory
//! and a small HTTP client for its API.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use inlet::config::Settings;
use inlet::server::RunningServer;
use serde_json::Value;

pub const ADMIN: &str = "bench-admin-token";

pub type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// The positional numeric arguments, each with its default when absent.
pub fn numeric_args<const N: usize>(defaults: [usize; N]) -> [usize; N] {
    let given: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("arguments are numbers"))
        .collect();
    std::array::from_fn(|i| given.get(i).copied().unwrap_or(defaults[i]))
}

pub struct Bench {
    pub server: RunningServer,
    pub base: String,
    pub http: Http,
    _dir: tempfile::TempDir,
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
        base: format!("http://{}", server.addr),
        server,
        http: Client::builder(TokioExecutor::new()).build_http(),
        _dir: dir,
    }
}

impl Bench {
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
}
