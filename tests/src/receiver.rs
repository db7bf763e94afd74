//! A real HTTP receiver on loopback for deliveries: it records every request it gets and
//! answers as the test scripts it (status, headers, delay), by the order of arrival.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// By lower-case name; repeated headers joined with ", ".
    pub headers: BTreeMap<String, String>,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// How to answer the n-th request (from 0).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
    pub body: String,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
            body: String::new(),
        }
    }

    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body(mut self, body: &str) -> Self {
        self.body = body.into();
        self
    }
}

type Script = dyn Fn(usize) -> Answer + Send + Sync;

pub struct Receiver {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    serving: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// A receiver that answers 200 to everything.
    pub async fn start() -> Self {
        Self::scripted(|_| Answer::status(200)).await
    }

    pub async fn scripted(script: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Self {
        Self::on(
            tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
            script,
        )
    }

    /// On a given listener (to come back on the same port).
    pub fn on(
        listener: tokio::net::TcpListener,
        script: impl Fn(usize) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let addr = listener.local_addr().unwrap();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Script> = Arc::new(script);
        let log = received.clone();
        let serving = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (log, script) = (log.clone(), script.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (log, script) = (log.clone(), script.clone());
                        async move {
                            let path = request.uri().path().to_string();
                            let mut headers = BTreeMap::<String, String>::new();
                            for (name, value) in request.headers() {
                                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                                headers
                                    .entry(name.as_str().to_string())
                                    .and_modify(|v| {
                                        v.push_str(", ");
                                        v.push_str(&value)
                                    })
                                    .or_insert(value);
                            }
                            let body = request.into_body().collect().await?.to_bytes();
                            let n = {
                                let mut log = log.lock().unwrap();
                                log.push(Received {
                                    path,
                                    headers,
                                    body,
                                    at: Instant::now(),
                                });
                                log.len() - 1
                            };
                            let answer = script(n);
                            tokio::time::sleep(answer.delay).await;
                            let mut response = Response::builder()
                                .status(StatusCode::from_u16(answer.status).unwrap());
                            for (name, value) in &answer.headers {
                                response = response.header(name, value);
                            }
                            Ok::<_, hyper::Error>(
                                response.body(Full::new(Bytes::from(answer.body))).unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Self {
            addr,
            received,
            serving,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests arrived, at most `secs`.
    pub async fn wait_for(&self, count: usize, secs: u64) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let received = self.received();
            if received.len() >= count || Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.serving.abort();
    }
}
