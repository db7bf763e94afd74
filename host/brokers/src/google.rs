//! The Google Pub/Sub source: streaming pull through the official `google-cloud-pubsub`.
//!
//! Each worker opens its own stream with flow control (at most [`MAX_OUTSTANDING`] messages
//! and [`MAX_OUTSTANDING_BYTES`] leased at once). It takes whatever has arrived as one
//! chunk, stores it in one write, and only then acks the chunk; the client library extends
//! the leases meanwhile. A message not stored is nacked (its handler dropped), so Pub/Sub
//! redelivers it, keeping its message_id: the receipt that keeps it from being stored twice.
//!
//! The library retries a broken stream by itself, forever and silently. So that a missing
//! subscription or an unreachable endpoint shows on the source, a worker first checks the
//! subscription with one plain call (`GetSubscription`), and checks it again every
//! [`CHECK_EVERY`] while streaming; a failed check closes the stream and retries with backoff.

use std::time::Duration;

use futures_util::FutureExt;
use google_cloud_auth::credentials::{Credentials, anonymous, service_account};
use google_cloud_gax::options::RequestOptionsBuilder;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_pubsub::client::{Subscriber, SubscriptionAdmin};
use google_cloud_pubsub::subscriber::{MessageStream, ShutdownBehavior};
use inlet_model::BrokerMetadata;
use inlet_model::outbound::Destination;
use inlet_model::pub_sub::{GoogleConfig, service_account_key};

use super::message::Message;
use super::{Backoff, Worker};

/// Flow control for each worker's stream; also the largest chunk stored in one write.
const MAX_OUTSTANDING: i64 = 1_000;
const MAX_OUTSTANDING_BYTES: i64 = 16 * 1024 * 1024;
/// How far each lease extension reaches: after a crash, the messages the crashed worker
/// held go to another consumer this long after their last extension (the library's default
/// is 60 s).
const LEASE_EXTENSION: Duration = Duration::from_secs(20);
/// How often a streaming worker checks that its subscription is still reachable.
const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Longest wait for one check, and for the acks in flight when a stream closes.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The subscription a worker consumes: its full name, and the server it is on.
struct Subscription {
    name: String,
    server: String,
}

impl Subscription {
    fn of(google: &GoogleConfig) -> Self {
        let server = match google.endpoint.as_deref().and_then(Destination::of_url) {
            Some(Destination { host, port }) => format!("{host}:{port}"),
            None => "pubsub.googleapis.com".to_string(),
        };
        Self {
            name: format!(
                "projects/{}/subscriptions/{}",
                google.project_id, google.subscription_id
            ),
            server,
        }
    }

    /// A failed call as the source's status shows it: what failed, how (the kind of
    /// failure, the gRPC or HTTP status) and where. Never the server's message, which
    /// another server than Google's may fill with anything: the whole error goes to the
    /// log, at debug.
    fn failure(&self, worker: &Worker, doing: &str, error: google_cloud_pubsub::Error) -> String {
        let how = if error.is_authentication() {
            "authentication failed".to_string()
        } else if let Some(status) = error.status() {
            format!("gRPC {}", status.code)
        } else if let Some(code) = error.http_status_code() {
            format!("HTTP {code}")
        } else if error.is_timeout() {
            "timed out".to_string()
        } else if error.is_connect() {
            "connection failed".to_string()
        } else if error.is_transport() || error.is_io() {
            "the connection failed".to_string()
        } else {
            "failed".to_string()
        };
        let summary = format!("{doing} {}: {how} ({})", self.name, self.server);
        worker.status.log_detail(&summary, error);
        summary
    }
}

/// The service account's, or none (anonymous) for an emulator.
fn credentials(google: &GoogleConfig) -> Result<Credentials, String> {
    if google.service_account.is_empty() {
        return Ok(anonymous::Builder::new().build());
    }
    service_account::Builder::new(service_account_key(google.service_account.expose())?)
        .build()
        .map_err(|e| format!("the service account key is not usable: {e}"))
}

async fn clients(google: &GoogleConfig) -> Result<(Subscriber, SubscriptionAdmin), String> {
    let credentials = credentials(google)?;
    let mut subscriber = Subscriber::builder().with_credentials(credentials.clone());
    let mut admin = SubscriptionAdmin::builder().with_credentials(credentials);
    if let Some(endpoint) = &google.endpoint {
        subscriber = subscriber.with_endpoint(endpoint);
        admin = admin.with_endpoint(endpoint);
    }
    let failed = |e: google_cloud_gax::client_builder::Error| {
        format!("cannot create the Pub/Sub client: {e}")
    };
    Ok((
        subscriber.build().await.map_err(failed)?,
        admin.build().await.map_err(failed)?,
    ))
}

/// One worker: connects and checks the subscription, streams from it until told to stop or
/// a check fails, and starts again with backoff.
pub(super) async fn run(config: GoogleConfig, worker: Worker) {
    let subscription = Subscription::of(&config);
    let mut backoff = Backoff::new();
    loop {
        let opened = tokio::select! {
            biased;
            _ = worker.stop.cancelled() => return,
            opened = open(&config, &subscription, &worker) => opened,
        };
        let outcome = match opened {
            Ok((subscriber, admin)) => {
                worker.status.running();
                backoff.reset();
                stream(&subscriber, &admin, &subscription, &worker).await
            }
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => return,
            Err(error) => {
                worker.status.failing(&error);
                if !backoff.wait(&worker.stop).await {
                    return;
                }
            }
        }
    }
}

/// Fresh clients (new connections after a failure), once the subscription answers.
async fn open(
    config: &GoogleConfig,
    subscription: &Subscription,
    worker: &Worker,
) -> Result<(Subscriber, SubscriptionAdmin), String> {
    let (subscriber, admin) = clients(config).await?;
    check(&admin, subscription, worker).await?;
    Ok((subscriber, admin))
}

/// Whether the subscription exists and answers, in one call without retries.
async fn check(
    admin: &SubscriptionAdmin,
    subscription: &Subscription,
    worker: &Worker,
) -> Result<(), String> {
    admin
        .get_subscription()
        .set_subscription(&subscription.name)
        .with_attempt_timeout(CALL_TIMEOUT)
        .with_retry_policy(NeverRetry)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| subscription.failure(worker, "cannot get subscription", e))
}

/// Streams until told to stop (Ok) or until the stream or a check fails (Err).
async fn stream(
    subscriber: &Subscriber,
    admin: &SubscriptionAdmin,
    subscription: &Subscription,
    worker: &Worker,
) -> Result<(), String> {
    let mut stream = subscriber
        .subscribe(&subscription.name)
        .set_max_outstanding_messages(MAX_OUTSTANDING)
        .set_max_outstanding_bytes(MAX_OUTSTANDING_BYTES)
        .set_max_lease_extension(LEASE_EXTENSION)
        // On close, send the acks in hand and hand every other leased message back at once.
        .set_shutdown_behavior(ShutdownBehavior::NackImmediately)
        .build();
    let mut checks =
        tokio::time::interval_at(tokio::time::Instant::now() + CHECK_EVERY, CHECK_EVERY);
    let pull_failed =
        |e: google_cloud_pubsub::Error| subscription.failure(worker, "cannot pull from", e);
    let outcome = loop {
        let first = tokio::select! {
            biased;
            _ = worker.stop.cancelled() => break Ok(()),
            _ = checks.tick() => match check(admin, subscription, worker).await {
                Ok(()) => continue,
                Err(error) => break Err(error),
            },
            next = stream.next() => next,
        };
        let mut chunk = match first {
            Some(Ok(received)) => vec![received],
            Some(Err(e)) => break Err(pull_failed(e)),
            None => break Err(format!("the stream from {} ended", subscription.name)),
        };
        // Whatever else has already arrived joins this chunk, without waiting for more. A
        // failure met meanwhile ends the stream once the chunk is stored and acked.
        let mut failed = None;
        while chunk.len() < MAX_OUTSTANDING as usize
            && let Some(Some(next)) = stream.next().now_or_never()
        {
            match next {
                Ok(received) => chunk.push(received),
                Err(e) => {
                    failed = Some(pull_failed(e));
                    break;
                }
            }
        }
        let (messages, handlers): (Vec<Message>, Vec<_>) = chunk
            .into_iter()
            .map(|(received, handler)| (message(received), handler))
            .unzip();
        if !worker.store(&messages).await {
            // Told to stop before the chunk was stored: dropping the handlers nacks it.
            break Ok(());
        }
        for handler in handlers {
            handler.ack();
        }
        if let Some(error) = failed {
            break Err(error);
        }
    };
    close(stream).await;
    outcome
}

/// Sends the acks in flight and releases the stream's other leased messages.
async fn close(stream: MessageStream) {
    let token = stream.shutdown_token();
    if tokio::time::timeout(CALL_TIMEOUT, token.shutdown())
        .await
        .is_err()
    {
        // Unacked messages come back after their ack deadline; receipts keep them stored once.
        tracing::warn!("Pub/Sub stream did not close in time; its last acks may be redelivered");
    }
}

/// A Pub/Sub message as Inlet keeps it: the data, the message_id as receipt, the
/// attributes, and the ordering key as the key.
fn message(received: google_cloud_pubsub::model::Message) -> Message {
    let metadata = BrokerMetadata {
        message_id: received.message_id,
        key: Some(received.ordering_key).filter(|key| !key.is_empty()),
        attributes: received.attributes.into_iter().collect(),
        ..Default::default()
    };
    Message {
        payload: received.data.into(),
        metadata,
    }
}
