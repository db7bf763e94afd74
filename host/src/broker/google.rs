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

use base64::Engine;
use futures_util::FutureExt;
use google_cloud_auth::credentials::{Credentials, anonymous, service_account};
use google_cloud_gax::options::RequestOptionsBuilder;
use google_cloud_gax::retry_policy::NeverRetry;
use google_cloud_pubsub::client::{Subscriber, SubscriptionAdmin};
use google_cloud_pubsub::subscriber::{MessageStream, ShutdownBehavior};
use serde::{Deserialize, Serialize};

use super::message::Message;
use super::{Backoff, Worker, is_url};
use crate::model::BrokerMetadata;
use crate::secret::{MASK, mask};
use crate::verify::FieldError;

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

/// Convoy's `pub_sub.google` object, plus `endpoint` for an emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoogleConfig {
    #[serde(default)]
    pub project_id: String,
    #[serde(default)]
    pub subscription_id: String,
    /// The service account's JSON key, base64-encoded (as Convoy sends it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    /// A Pub/Sub-compatible server instead of Google's, such as the emulator at
    /// `http://localhost:8085`; then the service account may be left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

impl GoogleConfig {
    pub fn validate(&self) -> Result<(), FieldError> {
        let field = |name, message: &str| Err(FieldError::new(name, message));
        let project_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | ':');
        if self.project_id.is_empty() || !self.project_id.chars().all(project_char) {
            return field(
                "pub_sub.google.project_id",
                "required: a Google Cloud project id such as my-project-123",
            );
        }
        let id = &self.subscription_id;
        let subscription_char =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '%');
        if !(3..=255).contains(&id.len())
            || !id.starts_with(|c: char| c.is_ascii_alphabetic())
            || !id.chars().all(subscription_char)
        {
            return field(
                "pub_sub.google.subscription_id",
                "required: 3 to 255 characters of letters, digits and - _ . ~ + %, starting with a letter",
            );
        }
        if let Some(endpoint) = &self.endpoint
            && !is_url(endpoint)
        {
            return field(
                "pub_sub.google.endpoint",
                "must be an http:// or https:// URL, such as http://localhost:8085",
            );
        }
        if self.service_account.is_empty() && self.endpoint.is_none() {
            return field(
                "pub_sub.google.service_account",
                "required (the service account's JSON key, base64-encoded) unless an endpoint is given",
            );
        }
        if !self.service_account.is_empty() {
            service_account_key(&self.service_account)
                .map_err(|message| FieldError::new("pub_sub.google.service_account", message))?;
        }
        Ok(())
    }

    pub(super) fn mask(&mut self) {
        self.service_account = mask(&self.service_account);
    }

    pub(super) fn unmask_from(&mut self, stored: &GoogleConfig) {
        if self.service_account == MASK {
            self.service_account = stored.service_account.clone();
        }
    }

    fn subscription(&self) -> String {
        format!(
            "projects/{}/subscriptions/{}",
            self.project_id, self.subscription_id
        )
    }

    /// The service account's, or none (anonymous) for an emulator.
    fn credentials(&self) -> Result<Credentials, String> {
        if self.service_account.is_empty() {
            return Ok(anonymous::Builder::new().build());
        }
        service_account::Builder::new(service_account_key(&self.service_account)?)
            .build()
            .map_err(|e| format!("the service account key is not usable: {e}"))
    }

    async fn clients(&self) -> Result<(Subscriber, SubscriptionAdmin), String> {
        let credentials = self.credentials()?;
        let mut subscriber = Subscriber::builder().with_credentials(credentials.clone());
        let mut admin = SubscriptionAdmin::builder().with_credentials(credentials);
        if let Some(endpoint) = &self.endpoint {
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
}

/// The JSON key in Convoy's base64 `service_account`, with the fields a key must have (its
/// private key itself is checked when first used).
fn service_account_key(encoded: &str) -> Result<serde_json::Value, String> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| "must be the service account's JSON key, base64-encoded".to_string())?;
    let key: serde_json::Value = serde_json::from_slice(&key)
        .map_err(|_| "must decode to the service account's JSON key".to_string())?;
    if key["type"] != "service_account" {
        return Err(r#"must be a service account key ("type": "service_account")"#.into());
    }
    for field in [
        "client_email",
        "private_key_id",
        "private_key",
        "project_id",
    ] {
        if key[field].as_str().is_none_or(str::is_empty) {
            return Err(format!("the service account key has no {field}"));
        }
    }
    Ok(key)
}

/// One worker: connects and checks the subscription, streams from it until told to stop or
/// a check fails, and starts again with backoff.
pub(super) async fn run(config: GoogleConfig, worker: Worker) {
    let subscription = config.subscription();
    let mut backoff = Backoff::new();
    loop {
        let opened = tokio::select! {
            biased;
            _ = worker.stop.cancelled() => return,
            opened = open(&config, &subscription) => opened,
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
    subscription: &str,
) -> Result<(Subscriber, SubscriptionAdmin), String> {
    let (subscriber, admin) = config.clients().await?;
    check(&admin, subscription).await?;
    Ok((subscriber, admin))
}

/// Whether the subscription exists and answers, in one call without retries.
async fn check(admin: &SubscriptionAdmin, subscription: &str) -> Result<(), String> {
    admin
        .get_subscription()
        .set_subscription(subscription)
        .with_attempt_timeout(CALL_TIMEOUT)
        .with_retry_policy(NeverRetry)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot get subscription {subscription}: {e}"))
}

/// Streams until told to stop (Ok) or until the stream or a check fails (Err).
async fn stream(
    subscriber: &Subscriber,
    admin: &SubscriptionAdmin,
    subscription: &str,
    worker: &Worker,
) -> Result<(), String> {
    let mut stream = subscriber
        .subscribe(subscription)
        .set_max_outstanding_messages(MAX_OUTSTANDING)
        .set_max_outstanding_bytes(MAX_OUTSTANDING_BYTES)
        .set_max_lease_extension(LEASE_EXTENSION)
        // On close, send the acks in hand and hand every other leased message back at once.
        .set_shutdown_behavior(ShutdownBehavior::NackImmediately)
        .build();
    let mut checks =
        tokio::time::interval_at(tokio::time::Instant::now() + CHECK_EVERY, CHECK_EVERY);
    let pull_failed =
        |e: google_cloud_pubsub::Error| format!("cannot pull from {subscription}: {e}");
    let outcome = loop {
        let first = tokio::select! {
            biased;
            _ = worker.stop.cancelled() => break Ok(()),
            _ = checks.tick() => match check(admin, subscription).await {
                Ok(()) => continue,
                Err(error) => break Err(error),
            },
            next = stream.next() => next,
        };
        let mut chunk = match first {
            Some(Ok(received)) => vec![received],
            Some(Err(e)) => break Err(pull_failed(e)),
            None => break Err(format!("the stream from {subscription} ended")),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GoogleConfig {
        GoogleConfig {
            project_id: "my-project-123".into(),
            subscription_id: "orders-inlet".into(),
            service_account: String::new(),
            endpoint: Some("http://localhost:8085".into()),
        }
    }

    fn encoded(key: serde_json::Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(key.to_string())
    }

    fn key() -> serde_json::Value {
        serde_json::json!({
            "type": "service_account",
            "project_id": "my-project-123",
            "private_key_id": "abc",
            "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
            "client_email": "inlet@my-project-123.iam.gserviceaccount.com",
        })
    }

    #[test]
    fn masked_service_account_echoed_back_keeps_the_stored_one() {
        let mut stored = config();
        stored.service_account = encoded(key());
        let mut shown = stored.clone();
        shown.mask();
        assert_eq!(shown.service_account, MASK);
        shown.unmask_from(&stored);
        assert_eq!(shown, stored);
    }

    #[test]
    fn a_service_account_key_is_required_without_an_endpoint_and_must_be_one() {
        assert!(config().validate().is_ok());
        let mut c = config();
        c.endpoint = None;
        c.service_account = encoded(key());
        assert!(c.validate().is_ok());
        let mut no_email = key();
        no_email.as_object_mut().unwrap().remove("client_email");
        let mut user = key();
        user["type"] = "authorized_user".into();
        for bad in [
            String::new(),
            "not base64!".into(),
            encoded(serde_json::json!("a string")),
            encoded(user),
            encoded(no_email),
        ] {
            c.service_account = bad;
            let error = c.validate().unwrap_err();
            assert_eq!(error.field, "pub_sub.google.service_account");
            assert!(
                !error.message.contains("BEGIN PRIVATE KEY"),
                "{}",
                error.message
            );
        }
    }

    #[test]
    fn invalid_fields_are_named() {
        type Break = fn(&mut GoogleConfig);
        let cases: [(&str, Break); 4] = [
            ("pub_sub.google.project_id", |c| c.project_id.clear()),
            ("pub_sub.google.subscription_id", |c| {
                c.subscription_id = "1orders".into()
            }),
            ("pub_sub.google.subscription_id", |c| {
                c.subscription_id = "projects/p/subscriptions/s".into()
            }),
            ("pub_sub.google.endpoint", |c| {
                c.endpoint = Some("localhost:8085".into())
            }),
        ];
        for (name, break_it) in cases {
            let mut c = config();
            break_it(&mut c);
            assert_eq!(c.validate().unwrap_err().field, name);
        }
    }
}
