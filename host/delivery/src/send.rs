//! The HTTP client of deliveries: one pooled HTTP/1.1 client for every endpoint, over TLS
//! (rustls with the system's root certificates) or plain HTTP, connecting only where the
//! [`Policy`] allows ([`PolicyConnector`]).
//!
//! An attempt ([`Sender::send`]) is one `POST`, never followed by another: redirects are
//! answers like any other (a 3xx is not a success), so an endpoint cannot send Inlet to an
//! address that was not checked as its URL was. Its outcome is recorded whatever happens
//! ([`Outcome`]): a failure is a short reason, never a panic nor an error to propagate.
//!
//! [`Sender::send`] is also the one entry point of `kafka` endpoints: an [`Outgoing`]'s
//! [`Target`] is a URL or a topic, and a Kafka attempt ([`crate::kafka`]) returns the same
//! [`Outcome`], without a status or an address.

use std::error::Error as StdError;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use bytes::Bytes;
use http::{Extensions, HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, HttpInfo};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use inlet_model::delivery::{Endpoint, EndpointType, MAX_RESPONSE_BYTES};
use inlet_model::{Event, FieldError};

use crate::connect::{CODE_NOT_ALLOWED, Policy, PolicyConnector, Refused};
use crate::kafka::{KafkaMessage, Producers, message_key};

/// The longest a connection may take to open (resolving included), whatever an endpoint's
/// timeout: an endpoint that cannot be reached in this long is not reachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle connection is kept for the next delivery to the same endpoint: shorter
/// than the usual server keep-alive, so that Inlet rarely reuses a connection being closed.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// The longest error reason kept, in bytes: it is stored with every failed attempt.
pub const MAX_ERROR_BYTES: usize = 512;
/// Most causes of an error looked at: a chain is walked to find its reason.
const MAX_CAUSES: usize = 16;

/// Sends delivery requests. Cheap to clone: clones share the connection pool and the Kafka
/// producers.
#[derive(Debug, Clone)]
pub struct Sender {
    client: Client<HttpsConnector<PolicyConnector>, Full<Bytes>>,
    kafka: Arc<Producers>,
}

/// One attempt's request: `body` with `headers`, to its target.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub target: Target,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// Bounds the whole attempt: connecting, sending and reading the response (for Kafka:
    /// checking the brokers, then the wait for the broker's acknowledgement).
    pub timeout: Duration,
}

/// Where an attempt goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A `POST` to the endpoint's URL.
    Http(Uri),
    /// A message on the endpoint's topic ([`crate::kafka`]).
    Kafka(KafkaMessage),
}

impl Target {
    /// Where an endpoint's attempt for `event` goes: its URL, or its topic with the
    /// message's key. Errors name the endpoint's field at fault.
    pub fn of(endpoint: &Endpoint, event: &Event) -> Result<Self, FieldError> {
        match endpoint.kind {
            EndpointType::Http => endpoint
                .url
                .parse()
                .map(Target::Http)
                .map_err(|e| FieldError::new("url", e.to_string())),
            EndpointType::Kafka => {
                let destination = endpoint
                    .kafka
                    .as_ref()
                    .ok_or_else(|| FieldError::new("kafka", "required for a kafka endpoint"))?;
                Ok(Target::Kafka(KafkaMessage {
                    endpoint_id: endpoint.uid.clone(),
                    key: message_key(destination, event)?,
                    destination: destination.clone(),
                }))
            }
        }
    }
}

/// What came of an attempt. A response that started to arrive is kept even when the
/// attempt then failed (its body broke off or timed out): `status` is set, and `error` says
/// what went wrong.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub requested_at: SystemTime,
    /// When the response's head arrived.
    pub responded_at: Option<SystemTime>,
    pub status: Option<StatusCode>,
    pub response_headers: HeaderMap,
    /// The start of the response body, at most [`MAX_RESPONSE_BYTES`]: the rest is never
    /// read (the connection is closed instead).
    pub response_body: Vec<u8>,
    /// Why the attempt failed, at most [`MAX_ERROR_BYTES`]: `timed out after 10 s`,
    /// `connection refused`, `outbound_not_allowed: …`, `TLS failed: …`, …
    pub error: Option<String>,
    /// From the start of the attempt to its end (the response read, or the failure).
    pub latency: Duration,
    /// The address connected to, when the response or the connection's failure tells it (an
    /// attempt that timed out before its answer does not).
    pub remote_addr: Option<SocketAddr>,
}

impl Outcome {
    /// The endpoint answered 2xx and its response was read: a 2xx whose body then broke
    /// off is not a success (as in Convoy), and its retry carries the same idempotency key.
    /// A Kafka attempt has no status: it succeeded when the broker acknowledged the
    /// message, which is when it has no error (an HTTP attempt without a status always has
    /// one).
    pub fn is_success(&self) -> bool {
        self.error.is_none() && self.status.is_none_or(|status| status.is_success())
    }
}

/// The response as far as it was read.
#[derive(Default)]
struct Received {
    responded_at: Option<SystemTime>,
    status: Option<StatusCode>,
    headers: HeaderMap,
    body: Vec<u8>,
    remote_addr: Option<SocketAddr>,
}

impl Sender {
    /// The client of every delivery. Fails when the system has no root certificates, since
    /// no HTTPS endpoint could then be verified.
    pub fn new(policy: Arc<Policy>) -> anyhow::Result<Self> {
        // The provider is named, not taken from the process default: with both of rustls's
        // providers in the build, the default is unset.
        let connector = HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .context("loading the system's root certificates for HTTPS endpoints")?
            .https_or_http()
            .enable_http1()
            .wrap_connector(PolicyConnector::new(policy.clone(), CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .build(connector);
        Ok(Self {
            client,
            kafka: Producers::new(policy),
        })
    }

    /// Makes one attempt, to its target; never fails, its failures are in the [`Outcome`].
    pub async fn send(&self, request: Outgoing) -> Outcome {
        let Outgoing {
            target,
            headers,
            body,
            timeout,
        } = request;
        match target {
            Target::Http(uri) => self.post(uri, headers, body, timeout).await,
            Target::Kafka(message) => self.kafka.send(message, headers, body, timeout).await,
        }
    }

    async fn post(&self, uri: Uri, headers: HeaderMap, body: Bytes, timeout: Duration) -> Outcome {
        let requested_at = SystemTime::now();
        let started = Instant::now();
        let mut received = Received::default();
        let error = if !is_absolute_http(&uri) {
            Some("invalid URL: expected an absolute http:// or https:// URL".to_string())
        } else {
            let exchange = self.exchange(uri, headers, body, &mut received);
            match tokio::time::timeout(timeout, exchange).await {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(error),
                Err(_) => Some(timed_out(timeout, received.status.is_some())),
            }
        };
        Outcome {
            requested_at,
            responded_at: received.responded_at,
            status: received.status,
            response_headers: received.headers,
            response_body: received.body,
            error,
            latency: started.elapsed(),
            remote_addr: received.remote_addr,
        }
    }

    /// Sends the request and reads the response into `received`, which keeps what arrived
    /// if the attempt is cut short by its timeout.
    async fn exchange(
        &self,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
        received: &mut Received,
    ) -> Result<(), String> {
        let mut outgoing = Request::new(Full::new(body));
        *outgoing.method_mut() = Method::POST;
        *outgoing.uri_mut() = uri;
        *outgoing.headers_mut() = headers;
        let response = self.client.request(outgoing).await.map_err(|error| {
            received.remote_addr = error.connect_info().and_then(remote_addr);
            describe(&error)
        })?;
        received.responded_at = Some(SystemTime::now());
        received.status = Some(response.status());
        received.remote_addr = response
            .extensions()
            .get::<HttpInfo>()
            .map(HttpInfo::remote_addr);
        let (head, mut body) = response.into_parts();
        received.headers = head.headers;
        // Stops once the limit is reached: dropping the body unread closes the connection,
        // so an endless body costs no more than the limit.
        while received.body.len() < MAX_RESPONSE_BYTES {
            let Some(frame) = body.frame().await else {
                break;
            };
            let frame = frame.map_err(|error| {
                bounded(format!("reading the response body: {}", describe(&error)))
            })?;
            if let Ok(data) = frame.into_data() {
                let room = MAX_RESPONSE_BYTES - received.body.len();
                received
                    .body
                    .extend_from_slice(&data[..data.len().min(room)]);
            }
        }
        Ok(())
    }
}

/// Whether the client can send to `uri`: it needs a scheme it speaks and a host.
fn is_absolute_http(uri: &Uri) -> bool {
    matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some()
}

fn remote_addr(connected: &Connected) -> Option<SocketAddr> {
    let mut extensions = Extensions::new();
    connected.get_extras(&mut extensions);
    extensions.get::<HttpInfo>().map(HttpInfo::remote_addr)
}

fn timed_out(timeout: Duration, responded: bool) -> String {
    let after = if timeout.subsec_nanos() == 0 {
        format!("{} s", timeout.as_secs())
    } else {
        format!("{} ms", timeout.as_millis())
    };
    if responded {
        format!("timed out after {after} reading the response body")
    } else {
        format!("timed out after {after}")
    }
}

/// A short reason for a client error: the policy's refusal, a TLS failure or a common
/// connection failure by name, else the messages of its causes.
fn describe(error: &(dyn StdError + 'static)) -> String {
    let chain = causes(error);
    if let Some(refused) = chain.iter().find_map(|e| e.downcast_ref::<Refused>()) {
        return bounded(format!("{CODE_NOT_ALLOWED}: {refused}"));
    }
    if let Some(tls) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return bounded(format!("TLS failed: {tls}"));
    }
    let kind = chain
        .iter()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .find_map(|e| match e.kind() {
            io::ErrorKind::ConnectionRefused => Some("connection refused"),
            io::ErrorKind::ConnectionReset => Some("connection reset"),
            io::ErrorKind::ConnectionAborted => Some("connection aborted"),
            io::ErrorKind::TimedOut => Some("timed out connecting"),
            _ => None,
        });
    if let Some(kind) = kind {
        return kind.to_string();
    }
    let closed = chain
        .iter()
        .filter_map(|e| e.downcast_ref::<hyper::Error>())
        .any(hyper::Error::is_incomplete_message);
    if closed {
        return "connection closed before the response was complete".to_string();
    }
    // hyper-util's own error only names its kind ("client error (Connect)"): its causes say
    // more, when it has any.
    let mut messages: Vec<String> = Vec::new();
    for cause in &chain {
        let wrapper = cause.is::<hyper_util::client::legacy::Error>() && cause.source().is_some();
        let message = cause.to_string();
        if !wrapper && messages.last() != Some(&message) {
            messages.push(message);
        }
    }
    bounded(messages.join(": "))
}

/// The error and its causes, including the error an `io::Error` wraps (which its
/// `source()` skips).
fn causes<'e>(error: &'e (dyn StdError + 'static)) -> Vec<&'e (dyn StdError + 'static)> {
    let mut chain = Vec::new();
    let mut cause = Some(error);
    while let Some(error) = cause {
        if chain.len() == MAX_CAUSES {
            break;
        }
        chain.push(error);
        cause = match error
            .downcast_ref::<io::Error>()
            .and_then(io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => error.source(),
        };
    }
    chain
}

pub(crate) fn bounded(mut text: String) -> String {
    if text.len() > MAX_ERROR_BYTES {
        let end = text.floor_char_boundary(MAX_ERROR_BYTES - '…'.len_utf8());
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::convert::Infallible;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll};

    use http::Response;
    use http_body_util::combinators::BoxBody;
    use hyper::body::{Body, Frame, Incoming};
    use hyper_util::rt::TokioIo;
    use inlet_model::outbound::AllowList;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    /// How the test receiver answers.
    #[derive(Clone, Copy)]
    enum Answer {
        Status(u16, &'static str),
        /// Answers 200 after this long.
        Slowly(Duration),
        /// A 200 whose body is this many bytes and then never ends.
        Endless(usize),
    }

    /// A request the receiver got.
    struct Seen {
        method: Method,
        headers: HeaderMap,
        body: Bytes,
    }

    struct Receiver {
        address: SocketAddr,
        connections: Arc<AtomicUsize>,
        seen: mpsc::UnboundedReceiver<Seen>,
    }

    impl Receiver {
        fn url(&self) -> Uri {
            format!("http://{}/hook", self.address).parse().unwrap()
        }
    }

    /// A body of one frame, then nothing, ever.
    struct EndlessBody(Option<Bytes>);

    impl Body for EndlessBody {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            match self.0.take() {
                Some(data) => Poll::Ready(Some(Ok(Frame::data(data)))),
                None => Poll::Pending,
            }
        }
    }

    /// An HTTP/1 server on loopback, counting the connections it accepts.
    async fn receiver(answer: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let (tell, seen) = mpsc::unbounded_channel();
        let counted = connections.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                counted.fetch_add(1, Ordering::SeqCst);
                let tell = tell.clone();
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let tell = tell.clone();
                    async move {
                        let (head, body) = request.into_parts();
                        let body = body.collect().await?.to_bytes();
                        let _ = tell.send(Seen {
                            method: head.method,
                            headers: head.headers,
                            body,
                        });
                        let full = |text: &'static str| Full::new(Bytes::from(text)).boxed();
                        let response = match answer {
                            Answer::Status(status, text) => Response::builder()
                                .status(status)
                                .header("x-answer", "yes")
                                .body(full(text)),
                            Answer::Slowly(wait) => {
                                tokio::time::sleep(wait).await;
                                Response::builder().body(full("late"))
                            }
                            Answer::Endless(size) => {
                                let first = Bytes::from(vec![b'x'; size]);
                                Response::builder().body(BoxBody::new(EndlessBody(Some(first))))
                            }
                        };
                        Ok::<_, hyper::Error>(response.unwrap())
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Receiver {
            address,
            connections,
            seen,
        }
    }

    /// A sender allowed to reach the test receivers on loopback.
    fn sender() -> Sender {
        let allowed = AllowList::parse(["127.0.0.1"]).unwrap();
        Sender::new(Arc::new(Policy::new(allowed))).unwrap()
    }

    fn post(uri: Uri, timeout: Duration) -> Outgoing {
        let mut headers = HeaderMap::new();
        headers.insert("x-custom", "1".parse().unwrap());
        Outgoing {
            target: Target::Http(uri),
            headers,
            body: Bytes::from_static(br#"{"id":1}"#),
            timeout,
        }
    }

    const TIMEOUT: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn a_2xx_answer_is_a_success_with_its_body_headers_and_address() {
        let mut receiver = receiver(Answer::Status(200, "thanks")).await;
        let outcome = sender().send(post(receiver.url(), TIMEOUT)).await;
        assert_eq!(outcome.error, None);
        assert_eq!(outcome.status, Some(StatusCode::OK));
        assert!(outcome.is_success());
        assert_eq!(outcome.response_body, b"thanks");
        assert_eq!(outcome.response_headers["x-answer"], "yes");
        assert_eq!(outcome.remote_addr, Some(receiver.address));
        assert!(outcome.responded_at.unwrap() >= outcome.requested_at);
        assert!(outcome.latency > Duration::ZERO);

        let seen = receiver.seen.recv().await.unwrap();
        assert_eq!(seen.method, Method::POST);
        assert_eq!(seen.body, br#"{"id":1}"#.as_slice());
        assert_eq!(seen.headers["x-custom"], "1");
        assert_eq!(seen.headers["content-length"], "8");
        assert_eq!(seen.headers["host"], receiver.address.to_string());
    }

    #[tokio::test]
    async fn a_500_is_an_answer_but_not_a_success() {
        let receiver = receiver(Answer::Status(500, "broken")).await;
        let outcome = sender().send(post(receiver.url(), TIMEOUT)).await;
        assert_eq!(outcome.status, Some(StatusCode::INTERNAL_SERVER_ERROR));
        assert_eq!(outcome.error, None);
        assert!(!outcome.is_success());
        assert_eq!(outcome.response_body, b"broken");
        assert!(outcome.responded_at.is_some());
    }

    #[tokio::test]
    async fn a_redirect_is_not_followed() {
        let receiver = receiver(Answer::Status(307, "")).await;
        let outcome = sender().send(post(receiver.url(), TIMEOUT)).await;
        assert_eq!(outcome.status, Some(StatusCode::TEMPORARY_REDIRECT));
        assert!(!outcome.is_success());
        assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_receiver_slower_than_the_timeout_times_out() {
        let receiver = receiver(Answer::Slowly(Duration::from_secs(5))).await;
        let timeout = Duration::from_millis(300);
        let outcome = sender().send(post(receiver.url(), timeout)).await;
        assert_eq!(outcome.error.as_deref(), Some("timed out after 300 ms"));
        assert_eq!(outcome.responded_at, None);
        assert_eq!(outcome.status, None);
        assert!(!outcome.is_success());
        assert!(
            outcome.latency >= timeout && outcome.latency < Duration::from_secs(3),
            "{:?}",
            outcome.latency
        );
    }

    #[tokio::test]
    async fn a_body_that_stalls_keeps_the_answer_but_is_not_a_success() {
        let receiver = receiver(Answer::Endless(100)).await;
        let outcome = sender()
            .send(post(receiver.url(), Duration::from_millis(300)))
            .await;
        assert_eq!(
            outcome.error.as_deref(),
            Some("timed out after 300 ms reading the response body")
        );
        assert_eq!(outcome.status, Some(StatusCode::OK));
        assert!(outcome.responded_at.is_some());
        assert_eq!(outcome.response_body, [b'x'; 100]);
        assert!(!outcome.is_success());
    }

    #[tokio::test]
    async fn a_refused_connection_is_named() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let uri = format!("http://127.0.0.1:{port}/").parse().unwrap();
        let outcome = sender().send(post(uri, TIMEOUT)).await;
        assert_eq!(outcome.error.as_deref(), Some("connection refused"));
        assert_eq!(outcome.status, None);
        assert_eq!(outcome.responded_at, None);
    }

    #[tokio::test]
    async fn a_connection_closed_without_an_answer_is_named() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hang_up = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            drop(stream);
        });
        let uri = format!("http://{address}/").parse().unwrap();
        let outcome = sender().send(post(uri, TIMEOUT)).await;
        hang_up.await.unwrap();
        assert_eq!(
            outcome.error.as_deref(),
            Some("connection closed before the response was complete")
        );
        assert_eq!(outcome.status, None);
        assert_eq!(outcome.remote_addr, Some(address));
    }

    #[tokio::test]
    async fn a_long_response_body_is_cut_without_reading_the_rest() {
        let receiver = receiver(Answer::Endless(1 << 20)).await;
        let outcome = sender().send(post(receiver.url(), TIMEOUT)).await;
        assert_eq!(
            outcome.error, None,
            "the body never ends: it was not awaited"
        );
        assert_eq!(outcome.status, Some(StatusCode::OK));
        assert_eq!(outcome.response_body.len(), MAX_RESPONSE_BYTES);
        assert!(outcome.response_body.iter().all(|&b| b == b'x'));
        assert!(
            outcome.latency < Duration::from_secs(5),
            "{:?}",
            outcome.latency
        );
    }

    #[tokio::test]
    async fn a_destination_the_policy_refuses_is_never_connected() {
        let receiver = receiver(Answer::Status(200, "")).await;
        let sender = Sender::new(Arc::new(Policy::default())).unwrap();
        for url in [
            receiver.url(),
            format!("http://localhost:{}/", receiver.address.port())
                .parse()
                .unwrap(),
        ] {
            let outcome = sender.send(post(url.clone(), TIMEOUT)).await;
            let error = outcome.error.unwrap();
            assert!(
                error.starts_with("outbound_not_allowed: Inlet may not connect to "),
                "{url}: {error}"
            );
            assert!(error.contains("loopback"), "{url}: {error}");
            assert_eq!(outcome.remote_addr, None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(receiver.connections.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn two_deliveries_to_an_endpoint_share_one_connection() {
        let receiver = receiver(Answer::Status(204, "")).await;
        let sender = sender();
        for _ in 0..2 {
            let outcome = sender.send(post(receiver.url(), TIMEOUT)).await;
            assert!(outcome.is_success(), "{outcome:?}");
            // The pool takes the connection back once the response is read, just after.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_tls_failure_is_named() {
        // An HTTP server answers the TLS handshake with plain text.
        let receiver = receiver(Answer::Status(200, "")).await;
        let uri = format!("https://{}/", receiver.address).parse().unwrap();
        let outcome = sender().send(post(uri, TIMEOUT)).await;
        let error = outcome.error.unwrap();
        assert!(error.starts_with("TLS failed: "), "{error}");
        assert_eq!(outcome.status, None);
    }

    #[tokio::test]
    async fn a_url_the_client_cannot_use_is_an_error_not_a_panic() {
        for uri in ["/relative", "ftp://example.com/", "http:/"] {
            let Ok(uri) = uri.parse::<Uri>() else {
                continue;
            };
            let outcome = sender().send(post(uri.clone(), TIMEOUT)).await;
            assert!(outcome.error.unwrap().starts_with("invalid URL"), "{uri}");
        }
    }

    #[test]
    fn error_reasons_are_bounded() {
        let long = bounded("é".repeat(MAX_ERROR_BYTES));
        assert!(
            long.len() <= MAX_ERROR_BYTES && long.ends_with('…'),
            "{long}"
        );
        assert_eq!(bounded("short".into()), "short");
        assert_eq!(
            timed_out(Duration::from_secs(10), false),
            "timed out after 10 s"
        );
        assert_eq!(
            timed_out(Duration::from_millis(1500), true),
            "timed out after 1500 ms reading the response body"
        );
    }
}
