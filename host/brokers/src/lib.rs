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

/// One source's consumers, when they run, behind the source's own lock: its changes apply
/// one at a time, in order, and a slow stop holds up no other source.
type Slot = Arc<tokio::sync::Mutex<Option<Running>>>;

/// The consumers of every enabled `pub_sub` source.
pub struct Brokers {
    store: Arc<Store>,
    metrics: Arc<Metrics>,
    /// Where sources may connect beyond the public cloud endpoints.
    allow_outbound: AllowList,
    /// Each source's slot by uid, with its project's uid. This lock is only held to find,
    /// add or remove a slot, never across a start or stop.
    slots: std::sync::Mutex<HashMap<String, (String, Slot)>>,
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
            slots: Default::default(),
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
    /// them when the broker configuration changed, or stops them when it is disabled or
    /// gone. Called after every write of the source.
    pub async fn apply(&self, source: &Source) {
        let slot = self.slot(&source.project_id, &source.uid);
        let mut running = slot.lock().await;
        // Read under the source's lock, not taken from the caller: of two updates racing,
        // the one applied last starts what was stored last, and a source deleted meanwhile
        // does not start.
        let stored = match self.store.source(&source.project_id, &source.uid) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(source = %source.uid, error = %e, "cannot read the source; its consumers are left as they are");
                return;
            }
        };
        let wanted = stored
            .as_ref()
            .filter(|s| !s.is_disabled)
            .and_then(|s| Some((s, s.pub_sub.as_ref()?)));
        let current = running.as_ref().map(|r| &r.config);
        if current.is_some() && current == wanted.map(|(_, config)| config) {
            return;
        }
        if let Some(current) = running.take() {
            self.stop_running(&source.uid, current).await;
        }
        *running = wanted.map(|(source, config)| self.start(source, config));
        drop(running);
        self.forget_if_idle(&source.uid, &slot);
    }

    fn start(&self, source: &Source, config: &PubSubConfig) -> Running {
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
                return Running {
                    config: config.clone(),
                    stop,
                    workers: Vec::new(),
                };
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
                Broker::Kafka(kafka) => tokio::spawn(kafka::run(
                    kafka.clone(),
                    self.allow_outbound.clone(),
                    worker.clone(),
                )),
                Broker::Sqs(sqs) => tokio::spawn(sqs::run(sqs.clone(), worker.clone())),
                Broker::Google(google) => tokio::spawn(google::run(google.clone(), worker.clone())),
            })
            .collect();
        tracing::info!(source = %source.uid, workers = config.workers, broker = ?config.kind, "pub_sub source started");
        Running {
            config: config.clone(),
            stop,
            workers,
        }
    }

    /// The source's slot, added when it has none.
    fn slot(&self, project_uid: &str, source_uid: &str) -> Slot {
        let mut slots = self.slots.lock().expect("slot map lock");
        let (_, slot) = slots
            .entry(source_uid.to_string())
            .or_insert_with(|| (project_uid.to_string(), Slot::default()));
        slot.clone()
    }

    /// Removes a source's slot when nothing runs in it and no one else holds or awaits it.
    fn forget_if_idle(&self, source_uid: &str, slot: &Slot) {
        let mut slots = self.slots.lock().expect("slot map lock");
        // Every holder got its clone through this map, whose lock is held: the count is
        // stable, and 2 means only the map and the caller.
        let idle = Arc::strong_count(slot) == 2 && slot.try_lock().is_ok_and(|r| r.is_none());
        if idle {
            slots.remove(source_uid);
        }
    }

    /// Stops a deleted source's consumers, after its deletion is stored: what they still
    /// hold is refused by the store and so never acknowledged; the broker keeps it.
    pub async fn stop(&self, source_uid: &str) {
        let slot = self
            .slots
            .lock()
            .expect("slot map lock")
            .get(source_uid)
            .map(|(_, slot)| slot.clone());
        if let Some(slot) = slot {
            self.stop_slot(source_uid, &slot).await;
        }
    }

    /// Stops the consumers of every source of a deleted project, all at once, after its
    /// deletion is stored. A source created meanwhile either has its slot here already,
    /// or reads the source as gone when it applies.
    pub async fn stop_project(&self, project_uid: &str) {
        let slots: Vec<(String, Slot)> = self
            .slots
            .lock()
            .expect("slot map lock")
            .iter()
            .filter(|(_, (project, _))| project == project_uid)
            .map(|(uid, (_, slot))| (uid.clone(), slot.clone()))
            .collect();
        self.stop_slots(slots).await;
    }

    /// Stops every source; part of a graceful shutdown.
    pub async fn shutdown(&self) {
        let slots: Vec<(String, Slot)> = self
            .slots
            .lock()
            .expect("slot map lock")
            .iter()
            .map(|(uid, (_, slot))| (uid.clone(), slot.clone()))
            .collect();
        self.stop_slots(slots).await;
    }

    async fn stop_slots(&self, slots: Vec<(String, Slot)>) {
        let stops = slots.iter().map(|(uid, slot)| self.stop_slot(uid, slot));
        futures_util::future::join_all(stops).await;
    }

    async fn stop_slot(&self, source_uid: &str, slot: &Slot) {
        let current = slot.lock().await.take();
        if let Some(current) = current {
            self.stop_running(source_uid, current).await;
        }
        self.forget_if_idle(source_uid, slot);
    }

    async fn stop_running(&self, source_uid: &str, current: Running) {
        current.stop.cancel();
        let finished = futures_util::future::join_all(current.workers);
        if tokio::time::timeout(STOP_TIMEOUT, finished).await.is_err() {
            // They can no longer store anything once the source is deleted (the store
            // refuses it); for a source disabled or changed, what they store is its own.
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
