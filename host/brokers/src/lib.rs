//! Broker intake: `pub_sub` sources consume a broker (Kafka, Amazon SQS, Google Pub/Sub) in
//! the background.
//!
//! [`Brokers`] runs each enabled source's workers and restarts or stops them when the source
//! changes. A worker turns each message into an event or a dead letter ([`message`]), stores
//! a chunk of them durably, and only then acknowledges the chunk to the broker. Each message
//! is stored with a receipt (its message id, or for Kafka its offset), so a redelivery is
//! not stored twice.
//! A source's state and last error are kept in its [`Status`].

mod google;
mod kafka;
mod message;
mod sqs;
mod status;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use inlet_metrics::Metrics;
use inlet_model::outbound::AllowList;
use inlet_model::pub_sub::{Broker, PubSubConfig};
use inlet_model::{Invalid, Source};
use inlet_store::{Store, StoreError, Stored};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use message::Converter;
use status::Status;
pub use status::StatusView;

/// How long stopping a source may take before its workers are left to finish on their own.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// What a worker needs: where to store, where to report.
#[derive(Clone)]
struct Worker {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    status: Arc<Status>,
    convert: Arc<Converter>,
    stop: CancellationToken,
}

impl Worker {
    /// Stores a chunk of messages durably, retrying with backoff while the store fails.
    /// False when told to stop before it succeeded, or when the source is gone (deleted
    /// while this worker was left to finish): then nothing may be acknowledged.
    async fn store(&self, messages: &[message::Message]) -> bool {
        let mut backoff = Backoff::new();
        loop {
            let records = messages.iter().map(|m| self.convert.incoming(m)).collect();
            let (project, source) = (self.convert.project_id(), self.convert.source_id());
            match self
                .store
                .append_from_source(project, source, records)
                .await
            {
                Ok(stored) => {
                    self.count(&stored);
                    return true;
                }
                Err(StoreError::Missing(_)) => {
                    tracing::info!(
                        source,
                        "pub_sub source deleted; its worker stores nothing more"
                    );
                    self.stop.cancel();
                    return false;
                }
                Err(e) => {
                    self.status.failing(&format!("cannot store messages: {e}"));
                    if !backoff.wait(&self.stop).await {
                        return false;
                    }
                }
            }
        }
    }

    /// Counts a chunk's outcomes: one metrics update per kind, not per message.
    fn count(&self, stored: &[Stored]) {
        let source = self.convert.source_id();
        let (mut events, mut letters, mut redelivered) = (0, 0, 0);
        for outcome in stored {
            match outcome {
                Stored::Event(_) => events += 1,
                Stored::DeadLetter(letter) => {
                    tracing::debug!(source, reason = %letter.reason, "message dead-lettered");
                    letters += 1;
                }
                Stored::Redelivered => redelivered += 1,
            }
        }
        if events > 0 {
            self.metrics.accepted(source, events);
        }
        if letters > 0 {
            self.metrics.dead_letter(source, letters);
        }
        if redelivered > 0 {
            self.metrics.redelivered(source, redelivered);
        }
    }
}

struct Running {
    config: PubSubConfig,
    stop: CancellationToken,
    workers: Vec<JoinHandle<()>>,
}

/// The consumers of every enabled `pub_sub` source.
pub struct Brokers {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Where sources may connect beyond the public cloud endpoints.
    allow_outbound: AllowList,
    running: tokio::sync::Mutex<HashMap<String, Running>>,
    /// Statuses of the running sources by uid, readable without waiting for a start or
    /// stop in progress.
    statuses: std::sync::Mutex<HashMap<String, Arc<Status>>>,
}

impl Brokers {
    pub fn new(store: Arc<Store>, metrics: Arc<Metrics>, allow_outbound: AllowList) -> Self {
        Self {
            store,
            metrics,
            allow_outbound,
            running: Default::default(),
            statuses: Default::default(),
        }
    }

    /// Starts the consumers of every stored `pub_sub` source.
    pub async fn start_all(&self) -> anyhow::Result<()> {
        for project in self.store.projects()? {
            for source in self.store.sources(&project.uid)? {
                self.apply(&source).await;
            }
        }
        Ok(())
    }

    /// Validates a broker configuration, and refuses one that would connect where the
    /// operator does not allow: the same check a stored source passes before it starts.
    pub fn check(&self, config: &PubSubConfig) -> Result<(), Invalid> {
        config.allowed_broker(&self.allow_outbound).map(|_| ())
    }

    /// Brings a source's consumers in line with its stored definition: starts them, restarts
    /// them when the broker configuration changed, or stops them when it is disabled.
    pub async fn apply(&self, source: &Source) {
        let wanted = source.pub_sub.as_ref().filter(|_| !source.is_disabled);
        let mut running = self.running.lock().await;
        if let Some(current) = running.get(&source.uid)
            && wanted == Some(&current.config)
        {
            return;
        }
        if let Some(current) = running.remove(&source.uid) {
            self.stop_running(&source.uid, current).await;
        }
        let Some(config) = wanted else { return };
        let status = Arc::new(Status::new(&source.uid, self.metrics.clone()));
        let stop = CancellationToken::new();
        self.statuses
            .lock()
            .expect("status map lock")
            .insert(source.uid.clone(), status.clone());
        let broker = match config.allowed_broker(&self.allow_outbound) {
            Ok(broker) => broker,
            Err(refused) => {
                // The API refuses such a definition; one stored before the allow-list
                // narrowed (or by an older version) stays idle and says why.
                status.refused(&refused.message);
                let idle = Running {
                    config: config.clone(),
                    stop,
                    workers: Vec::new(),
                };
                running.insert(source.uid.clone(), idle);
                return;
            }
        };
        let worker = Worker {
            store: self.store.clone(),
            metrics: self.metrics.clone(),
            status: status.clone(),
            convert: Arc::new(Converter::new(source)),
            stop: stop.clone(),
        };
        let workers = (0..config.workers)
            .map(|_| match broker {
                Broker::Kafka(kafka) => tokio::spawn(kafka::run(kafka.clone(), worker.clone())),
                Broker::Sqs(sqs) => tokio::spawn(sqs::run(sqs.clone(), worker.clone())),
                Broker::Google(google) => tokio::spawn(google::run(google.clone(), worker.clone())),
            })
            .collect();
        tracing::info!(source = %source.uid, workers = config.workers, broker = ?config.kind, "pub_sub source started");
        running.insert(
            source.uid.clone(),
            Running {
                config: config.clone(),
                stop,
                workers,
            },
        );
    }

    /// Stops a source's consumers (it was deleted): they finish storing what they hold,
    /// acknowledge it, and leave.
    pub async fn stop(&self, source_uid: &str) {
        let current = self.running.lock().await.remove(source_uid);
        if let Some(current) = current {
            self.stop_running(source_uid, current).await;
        }
    }

    /// Stops every source; part of a graceful shutdown.
    pub async fn shutdown(&self) {
        let all: Vec<_> = self.running.lock().await.drain().collect();
        let stops = all
            .into_iter()
            .map(|(uid, current)| async move { self.stop_running(&uid, current).await });
        futures_util::future::join_all(stops).await;
    }

    async fn stop_running(&self, source_uid: &str, current: Running) {
        current.stop.cancel();
        let finished = futures_util::future::join_all(current.workers);
        if tokio::time::timeout(STOP_TIMEOUT, finished).await.is_err() {
            tracing::warn!(source = %source_uid, "pub_sub source workers did not stop in time; left to finish");
        }
        let status = self
            .statuses
            .lock()
            .expect("status map lock")
            .remove(source_uid);
        if let Some(status) = status {
            status.stopped();
        }
        tracing::info!(source = %source_uid, "pub_sub source stopped");
    }

    /// The state of a source's consumers, if it has any.
    pub fn status(&self, source_uid: &str) -> Option<StatusView> {
        let statuses = self.statuses.lock().expect("status map lock");
        statuses.get(source_uid).map(|s| s.view())
    }
}

/// Exponential backoff for retries against a broker: 100 ms doubling to 5 s.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> Self {
        Self(Self::FIRST)
    }

    fn reset(&mut self) {
        self.0 = Self::FIRST;
    }

    /// Waits for the next delay; false when the worker is told to stop meanwhile.
    async fn wait(&mut self, stop: &CancellationToken) -> bool {
        let delay = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        tokio::select! {
            _ = stop.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}
