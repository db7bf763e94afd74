//! Test harness: a real Inlet on loopback with RocksDB in a temporary directory, and a
//! small HTTP client to talk to it.

pub mod kafka;
pub mod pubsub;
pub mod receiver;
pub mod sqs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use inlet::config::Settings;
use inlet::server::RunningServer;
use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "test-admin-token-of-at-least-32-bytes";

/// Where the tests' brokers listen (moto, the Pub/Sub emulator, the Kafka mock cluster):
/// what every test server allows outbound, unless a test says otherwise.
pub const BROKER_HOST: &str = "127.0.0.1";

/// `inlet serve`'s flags that allow [`BROKER_HOST`].
pub const ALLOW_BROKERS: [&str; 2] = ["--allow-outbound", BROKER_HOST];

/// An in-process server on an ephemeral loopback port.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub server: Option<RunningServer>,
    pub client: Client,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let server = start_in(dir.path(), configure).await;
        let client = Client::new(server.addr);
        Self {
            dir,
            server: Some(server),
            client,
        }
    }

    /// Shuts down gracefully: broker consumers commit and leave their groups while the
    /// test's broker is still there (dropping the server would not stop them).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.unwrap();
        }
    }

    /// Shuts down gracefully (unless stopped already) and starts again on the same data
    /// directory.
    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await;
    }

    /// `restart` with other settings.
    pub async fn restart_with(&mut self, configure: impl FnOnce(&mut Settings)) {
        self.stop().await;
        let server = start_in(self.dir.path(), configure).await;
        self.client = Client::new(server.addr);
        self.server = Some(server);
    }
}

async fn start_in(dir: &Path, configure: impl FnOnce(&mut Settings)) -> RunningServer {
    let mut settings = Settings::for_data_dir(dir);
    settings.listen = "127.0.0.1:0".parse().unwrap();
    settings.admin_token = Some(ADMIN_TOKEN.into());
    settings.allow_outbound = inlet_model::outbound::AllowList::parse([BROKER_HOST]).unwrap();
    configure(&mut settings);
    inlet::server::start(settings).await.unwrap()
}

#[derive(Clone)]
pub struct Client {
    pub addr: SocketAddr,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The stable error code of a JSON error.
    pub fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_string()
    }
}

impl Client {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        self.try_send(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Like `send`, but a connection failure is an `Err` instead of a panic.
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, String> {
        let mut request = Request::builder().method(method).uri(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = self
            .http
            .request(request.body(Full::new(body.into())).unwrap())
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// A JSON request with a bearer token.
    pub async fn api(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Reply {
        self.try_api(method, path, token, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub async fn try_api(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Result<Reply, String> {
        let auth = format!("Bearer {token}");
        let mut headers = vec![("authorization", auth.as_str())];
        let body = match body {
            Some(v) => {
                headers.push(("content-type", "application/json"));
                Bytes::from(v.to_string())
            }
            None => Bytes::new(),
        };
        self.try_send(method, path, &headers, body).await
    }

    /// `POST /ingest/{mask}`, as a provider sends a webhook.
    pub async fn ingest(&self, mask: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        let path = format!("/ingest/{mask}");
        self.send(Method::POST, &path, headers, body.to_vec()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Bytes::new()).await
    }

    /// Creates a project as admin; returns its uid and, for an outgoing project, its API key.
    pub async fn create_project(&self, kind: &str) -> (String, Option<String>) {
        let reply = self
            .api(
                Method::POST,
                "/api/v1/projects",
                ADMIN_TOKEN,
                Some(json!({"name": format!("{kind} project"), "type": kind})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let data = &reply.json()["data"];
        (
            data["uid"].as_str().unwrap().to_string(),
            data["api_key"].as_str().map(str::to_string),
        )
    }

    /// Creates a source as admin and returns its `data`.
    pub async fn create_source(&self, project: &str, source: Value) -> Value {
        let reply = self
            .api(
                Method::POST,
                &format!("/api/v1/projects/{project}/sources"),
                ADMIN_TOKEN,
                Some(source),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["data"].clone()
    }

    /// Creates an incoming project with one source; returns the project uid and the
    /// source's mask id.
    pub async fn incoming_source(&self, source: Value) -> (String, String) {
        let (project, _) = self.create_project("incoming").await;
        let data = self.create_source(&project, source).await;
        (project, data["mask_id"].as_str().unwrap().to_string())
    }

    /// Lists a project's events with the given query string; returns `data`.
    pub async fn events(&self, project: &str, query: &str) -> Value {
        let reply = self.list_events(project, query).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["data"].clone()
    }

    /// `GET` a project's events with the given query string, as admin.
    pub async fn list_events(&self, project: &str, query: &str) -> Reply {
        let path = format!("/api/v1/projects/{project}/events?{query}");
        self.api(Method::GET, &path, ADMIN_TOKEN, None).await
    }
}

impl Client {
    /// Every event of a project, oldest first (storage order), paging through the API.
    pub async fn all_events(&self, project: &str) -> Vec<Value> {
        self.all(&format!("/api/v1/projects/{project}/events"))
            .await
    }

    /// Waits until a project holds exactly `count` events, failing at once if it ever holds
    /// more (a message stored twice); returns them, oldest first.
    pub async fn wait_for_events(&self, project: &str, count: usize, secs: u64) -> Vec<Value> {
        eventually(secs, &format!("{count} events"), || async {
            let events = self.all_events(project).await;
            assert!(
                events.len() <= count,
                "more events than messages: {}",
                events.len()
            );
            (events.len() == count).then_some(events)
        })
        .await
    }

    /// Waits until a source has accepted at least `at_least` events (by `/metrics`); returns
    /// how many it had.
    pub async fn wait_for_accepted(&self, source: &str, at_least: f64, secs: u64) -> f64 {
        let accepted = format!("inlet_events_accepted_total{{source=\"{source}\"}}");
        eventually(secs, &format!("{at_least} events accepted"), || async {
            let n = self.metric(&accepted).await;
            (n >= at_least).then_some(n)
        })
        .await
    }

    /// After a SIGKILL and a restart on the same data directory, once the source's messages
    /// are all stored (`total` events, each once): how many the store held when the process
    /// died. The restarted process's `inlet_events_accepted_total` starts at zero and counts
    /// only events it stored itself (a redelivery of one stored before is not counted), so
    /// the others were stored before the kill.
    pub async fn stored_at_kill(&self, source: &str, total: usize) -> f64 {
        // A chunk's events are counted just after they are stored: let the last count land.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let accepted = format!("inlet_events_accepted_total{{source=\"{source}\"}}");
        total as f64 - self.metric(&accepted).await
    }

    /// Waits until a project holds exactly `count` dead letters; returns them.
    pub async fn wait_for_dead_letters(
        &self,
        project: &str,
        count: usize,
        secs: u64,
    ) -> Vec<Value> {
        eventually(secs, &format!("{count} dead letters"), || async {
            let letters = self.all_dead_letters(project).await;
            (letters.len() == count).then_some(letters)
        })
        .await
    }

    /// Waits until a broker source is `retrying` with a last error that mentions
    /// `mentioning`; returns its status.
    pub async fn wait_for_failure(
        &self,
        project: &str,
        source: &str,
        mentioning: &str,
        secs: u64,
    ) -> Value {
        eventually(
            secs,
            &format!("a failure mentioning {mentioning:?}"),
            || async {
                let status = self.source_status(project, source).await;
                (status["state"] == "retrying"
                    && status["last_error"].as_str()?.contains(mentioning))
                .then_some(status)
            },
        )
        .await
    }

    /// POSTs `body` to `path` as admin, expecting a 400 with `code` and a message that
    /// contains `message`.
    pub async fn assert_bad_request(&self, path: &str, body: Value, code: &str, message: &str) {
        let reply = self
            .api(Method::POST, path, ADMIN_TOKEN, Some(body.clone()))
            .await;
        let context = format!("{body}: {}", reply.text());
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{context}");
        assert_eq!(reply.code(), code, "{context}");
        let text = reply.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(text.contains(message), "{context}");
    }

    /// A broker source's `status` (state and last error) as the API shows it.
    pub async fn source_status(&self, project: &str, source: &str) -> Value {
        let path = format!("/api/v1/projects/{project}/sources/{source}");
        self.api(Method::GET, &path, ADMIN_TOKEN, None).await.json()["data"]["status"].clone()
    }

    /// Every dead letter of a project, oldest first.
    pub async fn all_dead_letters(&self, project: &str) -> Vec<Value> {
        self.all(&format!("/api/v1/projects/{project}/dead-letters"))
            .await
    }

    async fn all(&self, path: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = format!("{path}?perPage=1000&next_page_cursor={cursor}");
            let reply = self.api(Method::GET, &page, ADMIN_TOKEN, None).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
            let data = &reply.json()["data"];
            items.extend(data["content"].as_array().unwrap().iter().cloned());
            if data["pagination"]["has_next_page"] != json!(true) {
                break;
            }
            cursor = data["pagination"]["next_page_cursor"]
                .as_str()
                .unwrap()
                .to_string();
        }
        items.reverse();
        items
    }

    /// A sample's value from `/metrics` (0 when absent), e.g.
    /// `inlet_dead_letters_total{source="…"}`.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.get("/metrics").await.text();
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

/// Polls `check` every 100 ms until it returns `Some`, failing after `secs` seconds.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    secs: u64,
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Reads what the server answers on a raw connection until it closes it (10 s at most).
pub async fn read_response(tcp: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut response = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tcp.read_to_end(&mut response),
    )
    .await;
    String::from_utf8_lossy(&response).into_owned()
}

/// The distinct `data.seq` numbers of events made from [`event_body`]s.
pub fn event_seqs(events: &[Value]) -> std::collections::HashSet<u64> {
    events
        .iter()
        .map(|e| e["data"]["seq"].as_u64().unwrap())
        .collect()
}

/// Convoy's event body numbered `seq`, as a service sends it to a queue.
pub fn event_body(seq: usize) -> String {
    json!({
        "endpoint_id": "endpoint-1",
        "event_type": "order.created",
        "data": {"seq": seq}
    })
    .to_string()
}

/// A real `inlet serve` process; killed when dropped.
pub struct InletProcess {
    pub child: std::process::Child,
    pub client: Client,
    /// What it prints: the generated admin token, and its logs.
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Drop for InletProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `inlet serve` on `dir` and a free loopback port, and waits until it listens.
/// It logs warnings and errors, as JSON, to `stdout`.
pub async fn spawn_inlet(
    dir: &Path,
    admin_token: Option<&str>,
    extra_args: &[&str],
) -> InletProcess {
    spawn_inlet_logging(dir, admin_token, extra_args, "warn").await
}

/// `spawn_inlet` with another `RUST_LOG` filter.
pub async fn spawn_inlet_logging(
    dir: &Path,
    admin_token: Option<&str>,
    extra_args: &[&str],
    log_filter: &str,
) -> InletProcess {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = std::process::Command::new(inlet_binary());
    command
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data-dir",
        ])
        .arg(dir)
        .args(extra_args)
        .env_remove("INLET_ADMIN_TOKEN")
        .env("RUST_LOG", log_filter)
        .env("INLET_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped());
    if let Some(token) = admin_token {
        command.env("INLET_ADMIN_TOKEN", token);
    }
    let mut child = command.spawn().unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let process = InletProcess {
        child,
        client: Client::new(format!("127.0.0.1:{port}").parse().unwrap()),
        stdout,
    };
    for _ in 0..400 {
        if tokio::net::TcpStream::connect(process.client.addr)
            .await
            .is_ok()
        {
            return process;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("inlet did not start listening");
}

/// The `inlet` binary built next to this test binary (`cargo build --bin inlet`).
pub fn inlet_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = dir.join("inlet");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --bin inlet` before the tests (scripts/test.sh does)",
        bin.display()
    );
    bin
}

pub fn hmac_sha256_hex(secret: &str, content: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(content);
    hex::encode(mac.finalize().into_bytes())
}

/// A hostile test plugin (`tests/plugins/<name>`), built by this crate's build script.
pub fn test_plugin(name: &str) -> PathBuf {
    Path::new(env!("OUT_DIR"))
        .join("plugins")
        .join(format!("{name}.wasm"))
}

impl Client {
    /// Creates an outgoing project with this delivery `config` as admin; its uid and API
    /// key.
    pub async fn create_outgoing_project(&self, config: Value) -> (String, String) {
        let body = json!({"name": "deliveries", "type": "outgoing", "config": config});
        let data = self
            .expect(
                Method::POST,
                "/api/v1/projects",
                Some(body),
                StatusCode::CREATED,
            )
            .await;
        (
            data["uid"].as_str().unwrap().to_string(),
            data["api_key"].as_str().unwrap().to_string(),
        )
    }

    /// Creates an endpoint as admin and returns its `data`.
    pub async fn create_endpoint(&self, project: &str, endpoint: Value) -> Value {
        let path = format!("/api/v1/projects/{project}/endpoints");
        let reply = self
            .api(Method::POST, &path, ADMIN_TOKEN, Some(endpoint))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["data"].clone()
    }

    /// Sends `body` to a path as admin, expecting `status`; returns `data`.
    pub async fn expect(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let reply = self.api(method, path, ADMIN_TOKEN, body).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.text());
        reply.json()["data"].clone()
    }
}
