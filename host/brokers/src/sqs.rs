//! The Amazon SQS source: concurrent long polls through aws-sdk-sqs.
//!
//! Each worker receives up to ten messages per call, stores them in one write, and only
//! then deletes them in one batch. A message that failed to store is never deleted, so SQS
//! hands it out again after its visibility timeout; while a write is slow, the worker
//! extends the messages' visibility so that no other consumer gets them meanwhile. A
//! redelivered message keeps its MessageId, the receipt that keeps it from being stored
//! twice.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry,
    MessageSystemAttributeName,
};
use inlet_model::BrokerMetadata;
use inlet_model::outbound::Destination;
use inlet_model::pub_sub::{SqsConfig, is_url};

use super::message::{Message, text};
use super::{Backoff, Worker};

/// SQS's limits for one ReceiveMessage: a long poll of 20 s, 10 messages.
const WAIT_SECONDS: i32 = 20;
const MAX_MESSAGES: i32 = 10;
/// While a write takes longer than this, the messages' visibility is extended, each time
/// to [`VISIBILITY_EXTENSION`] from then.
const EXTEND_EVERY: Duration = Duration::from_secs(5);
const VISIBILITY_EXTENSION: i32 = 30;

/// A client for the configured region, credentials and endpoint.
fn client(sqs: &SqsConfig) -> Client {
    let credentials = Credentials::new(
        &sqs.access_key_id,
        sqs.secret_key.expose(),
        None,
        None,
        "inlet-source",
    );
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        // Above the long poll's 20 s, so that an empty poll is not a timeout.
        .operation_attempt_timeout(Duration::from_secs(WAIT_SECONDS as u64 + 10))
        .build();
    let mut config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(sqs.default_region.clone()))
        .credentials_provider(credentials)
        .timeout_config(timeouts);
    if let Some(endpoint) = &sqs.endpoint {
        config = config.endpoint_url(endpoint);
    }
    Client::from_conf(config.build())
}

/// Where the client sends its requests, as a failure names it.
fn server(sqs: &SqsConfig) -> String {
    match sqs.endpoint.as_deref().and_then(Destination::of_url) {
        Some(Destination { host, port }) => format!("{host}:{port}"),
        None => format!("sqs.{}.amazonaws.com", sqs.default_region),
    }
}

/// A failed call as the source's status shows it: what failed, how (the kind of failure,
/// the HTTP status, AWS's error code) and where. Never the response's text, which an
/// SQS-compatible server may fill with anything: the whole error goes to the log, at debug.
fn failure<E>(
    worker: &Worker,
    server: &str,
    doing: &str,
    error: SdkError<E, HttpResponse>,
) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let how = match &error {
        SdkError::ServiceError(e) => {
            let status = e.raw().status().as_u16();
            match e.err().code().filter(|code| is_error_code(code)) {
                Some(code) => format!("HTTP {status} {code}"),
                None => format!("HTTP {status}"),
            }
        }
        SdkError::ResponseError(e) => {
            format!("unreadable response, HTTP {}", e.raw().status().as_u16())
        }
        SdkError::TimeoutError(_) => "timed out".to_string(),
        SdkError::DispatchFailure(e) if e.is_timeout() => "timed out connecting".to_string(),
        SdkError::DispatchFailure(e) if e.is_io() => "connection failed".to_string(),
        SdkError::DispatchFailure(_) => "the request could not be sent".to_string(),
        SdkError::ConstructionFailure(_) => "the request could not be built".to_string(),
        _ => "failed".to_string(),
    };
    let summary = format!("{doing}: {how} ({server})");
    worker
        .status
        .log_detail(&summary, DisplayErrorContext(error));
    summary
}

/// Whether an error code is shaped like AWS's (`AWS.SimpleQueueService.NonExistentQueue`),
/// and so is shown: a short token, not prose a server made up.
fn is_error_code(code: &str) -> bool {
    let token = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':');
    (1..=64).contains(&code.len()) && code.chars().all(token)
}

/// One worker: long-polls the queue until told to stop.
pub(super) async fn run(config: SqsConfig, worker: Worker) {
    let client = client(&config);
    let server = server(&config);
    let mut backoff = Backoff::new();
    // Resolved from the name when needed, and again after any failure (the queue may have
    // been deleted and created anew).
    let mut queue_url = is_url(&config.queue_name).then(|| config.queue_name.clone());
    while !worker.stop.is_cancelled() {
        let polled = async {
            let url = match &queue_url {
                Some(url) => url.clone(),
                None => resolve(&client, &config.queue_name, &worker, &server).await?,
            };
            let received = client
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(MAX_MESSAGES)
                .wait_time_seconds(WAIT_SECONDS)
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
                .send()
                .await
                .map_err(|e| failure(&worker, &server, "cannot receive from the queue", e))?;
            Ok::<_, String>((url, received.messages.unwrap_or_default()))
        };
        // Stopping abandons a poll in flight: whatever it received reappears after the
        // visibility timeout, and receipts keep it from being stored twice.
        let polled = tokio::select! {
            biased;
            _ = worker.stop.cancelled() => return,
            polled = polled => polled,
        };
        let (url, received) = match polled {
            Ok(polled) => polled,
            Err(error) => {
                queue_url = is_url(&config.queue_name).then(|| config.queue_name.clone());
                worker.status.failing(&error);
                backoff.wait(&worker.stop).await;
                continue;
            }
        };
        queue_url = Some(url.clone());
        backoff.reset();
        worker.status.running();
        if received.is_empty() {
            continue;
        }
        let handles: Vec<String> = received
            .iter()
            .filter_map(|m| m.receipt_handle.clone())
            .collect();
        let messages: Vec<Message> = received.into_iter().map(message).collect();
        let extend = || extend_visibility(&client, &url, &handles, &worker, &server);
        if !while_extending(worker.store(&messages), EXTEND_EVERY, extend).await {
            return;
        }
        delete(&client, &url, &handles, &worker, &server).await;
    }
}

async fn resolve(
    client: &Client,
    name: &str,
    worker: &Worker,
    server: &str,
) -> Result<String, String> {
    let found = client
        .get_queue_url()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| failure(worker, server, &format!("cannot find queue {name:?}"), e))?;
    found
        .queue_url
        .ok_or_else(|| format!("the server returned no URL for queue {name:?}"))
}

/// Awaits `work`, calling `extend` every `every` until it is done.
async fn while_extending<T, E: Future<Output = ()>>(
    work: impl Future<Output = T>,
    every: Duration,
    extend: impl Fn() -> E,
) -> T {
    tokio::pin!(work);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        tokio::select! {
            done = &mut work => return done,
            _ = ticks.tick() => extend().await,
        }
    }
}

async fn extend_visibility(
    client: &Client,
    url: &str,
    handles: &[String],
    worker: &Worker,
    server: &str,
) {
    let entries = handles.iter().enumerate().filter_map(|(i, handle)| {
        ChangeMessageVisibilityBatchRequestEntry::builder()
            .id(i.to_string())
            .receipt_handle(handle)
            .visibility_timeout(VISIBILITY_EXTENSION)
            .build()
            .ok()
    });
    let extended = client
        .change_message_visibility_batch()
        .queue_url(url)
        .set_entries(Some(entries.collect()))
        .send()
        .await;
    if let Err(e) = extended {
        // The messages may then be handed out again; receipts keep them stored once.
        let error = failure(
            worker,
            server,
            "cannot extend the visibility of messages being stored",
            e,
        );
        tracing::warn!(error, "messages being stored may be handed out again");
    }
}

/// Deletes stored messages, retrying while SQS fails. A message not deleted comes back after
/// its visibility timeout and is then recognised by its receipt and deleted.
async fn delete(client: &Client, url: &str, handles: &[String], worker: &Worker, server: &str) {
    let entries: Vec<_> = handles
        .iter()
        .enumerate()
        .filter_map(|(i, handle)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(handle)
                .build()
                .ok()
        })
        .collect();
    let mut backoff = Backoff::new();
    loop {
        let deleted = client
            .delete_message_batch()
            .queue_url(url)
            .set_entries(Some(entries.clone()))
            .send()
            .await;
        match deleted {
            Ok(output) => {
                for failed in output.failed {
                    let code = Some(failed.code).filter(|code| is_error_code(code));
                    tracing::warn!(
                        code,
                        "SQS did not delete a stored message; it will be redelivered and recognised"
                    );
                    let detail = failed.message.unwrap_or_default();
                    worker.status.log_detail("message not deleted", detail);
                }
                return;
            }
            Err(e) => {
                worker
                    .status
                    .failing(&failure(worker, server, "cannot delete stored messages", e));
                if !backoff.wait(&worker.stop).await {
                    return;
                }
            }
        }
    }
}

/// An SQS message as Inlet keeps it: the body, the MessageId as receipt (none when the server
/// sent none: see `Converter::receipt`), the message attributes, and a FIFO queue's message
/// group as the key.
fn message(received: aws_sdk_sqs::types::Message) -> Message {
    let mut metadata = BrokerMetadata {
        message_id: received.message_id.unwrap_or_default(),
        key: received
            .attributes
            .and_then(|mut a| a.remove(&MessageSystemAttributeName::MessageGroupId)),
        ..Default::default()
    };
    for (name, value) in received.message_attributes.unwrap_or_default() {
        let value = match (value.string_value, value.binary_value) {
            (Some(value), _) => value,
            (None, Some(bytes)) => {
                let field = format!("attributes.{name}");
                text(bytes.as_ref(), &field, &mut metadata.base64_fields)
            }
            (None, None) => String::new(),
        };
        metadata.attributes.insert(name, value);
    }
    Message {
        payload: received.body.unwrap_or_default().into_bytes(),
        metadata,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn slow_work_extends_visibility_until_it_is_done() {
        let extended = AtomicU32::new(0);
        let work = tokio::time::sleep(Duration::from_secs(12));
        while_extending(work, EXTEND_EVERY, || async {
            extended.fetch_add(1, Ordering::Relaxed);
        })
        .await;
        // At 5 s and 10 s; not at once, and not after the work ended.
        assert_eq!(extended.load(Ordering::Relaxed), 2);
        while_extending(async {}, EXTEND_EVERY, || async {
            extended.fetch_add(1, Ordering::Relaxed);
        })
        .await;
        assert_eq!(extended.load(Ordering::Relaxed), 2);
    }
}
