//! Group commit: one thread owns every write. It takes whatever jobs are waiting, applies
//! them to a single `WriteBatch`, writes it with the WAL synced, and only then answers each
//! caller. Concurrent requests therefore share one fsync, and because this thread is the
//! only writer, an idempotency check and the write it guards are atomic.
//!
//! A failed write (a full disk) makes RocksDB refuse every later one, at once, until it has
//! recovered: from a full disk it does by itself once there is room (see
//! [`WRITE_BUFFER_BYTES`](super::WRITE_BUFFER_BYTES)). The writer records the failure in
//! [`WriteState`] (what `Store::health` and `/readyz` report), logs it once (and again once a
//! minute), keeps answering every job with the error, and while no job waits tries an empty
//! write every [`PROBE_EVERY`], so that it learns of the recovery without traffic.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use rocksdb::{DB, WriteBatch, WriteOptions};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};

use inlet_metrics::Metrics;
use inlet_model::delivery::{Delivery, DeliveryMetadata, DeliveryStatus};
use inlet_model::{DeadLetter, Event, RawEncoding, Source};
use inlet_route::Route;

use super::{
    Cf, Result, Signals, StoreError, UID_LEN, WriteFailure, cf_handle, key, no_space, queue_key,
    source_index_removals,
};

/// Most jobs folded into one batch; keeps a batch's latency and memory bounded.
const MAX_BATCH_JOBS: usize = 512;
/// Jobs waiting for the writer; senders wait (back-pressure) when it is full.
const QUEUE_DEPTH: usize = 4096;
/// While writes fail and no job waits, how often the writer tries an empty write to learn
/// whether RocksDB has recovered. Until it has, RocksDB refuses it at once, without I/O.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// While writes keep failing, how often that is logged again.
const LOG_AGAIN_EVERY: Duration = Duration::from_secs(60);

/// Whether writes fail: kept by the writer, read by `Store::health`.
#[derive(Default)]
pub(super) struct WriteState {
    failure: Mutex<Option<WriteFailure>>,
}

impl WriteState {
    pub(super) fn failure(&self) -> Option<WriteFailure> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<WriteFailure>> {
        self.failure.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The writer's account of the outcome of its writes: a failure is shared in [`WriteState`]
/// and logged when it starts, once a minute while it lasts, and when it ends.
struct Watch<'a> {
    state: &'a WriteState,
    metrics: &'a Metrics,
    failing: Option<Failing>,
}

struct Failing {
    since: Instant,
    logged: Instant,
    /// Jobs answered with the error.
    refused: usize,
}

impl Watch<'_> {
    /// Takes the outcome of a write of `jobs` jobs (none for a probe).
    fn note(&mut self, outcome: &std::result::Result<(), rocksdb::Error>, jobs: usize) {
        let now = Instant::now();
        match (outcome, &mut self.failing) {
            (Ok(()), None) => {}
            (Ok(()), Some(failing)) => {
                tracing::warn!(
                    failed_secs = failing.since.elapsed().as_secs_f64(),
                    refused_jobs = failing.refused,
                    "store writes work again"
                );
                *self.state.lock() = None;
                self.metrics.store_writable(true);
                self.failing = None;
            }
            (Err(e), failing) => {
                let mut shared = self.state.lock();
                let since = shared
                    .as_ref()
                    .map_or_else(SystemTime::now, |failure| failure.since);
                *shared = Some(WriteFailure {
                    since,
                    error: e.to_string(),
                    no_space: no_space(e),
                });
                drop(shared);
                self.metrics.store_writable(false);
                match failing {
                    None => {
                        tracing::error!(
                            error = %e,
                            "store writes fail: every write is refused (503 store_unavailable) \
                             and /readyz is unready until RocksDB has recovered"
                        );
                        self.failing = Some(Failing {
                            since: now,
                            logged: now,
                            refused: jobs,
                        });
                    }
                    Some(failing) => {
                        failing.refused += jobs;
                        if failing.logged.elapsed() >= LOG_AGAIN_EVERY {
                            tracing::error!(
                                error = %e,
                                failed_secs = failing.since.elapsed().as_secs_f64(),
                                refused_jobs = failing.refused,
                                "store writes still fail"
                            );
                            failing.logged = now;
                        }
                    }
                }
            }
        }
    }
}

/// A write of a configuration change.
#[derive(Debug)]
pub(super) enum Write {
    Put(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
    /// Deletes every key starting with the prefix.
    DeletePrefix(Cf, Vec<u8>),
}

/// A configuration change: projects, sources, keys. The writer settles a job's changes
/// into writes, or refuses the job.
#[derive(Debug)]
pub(super) enum Change {
    Write(Write),
    /// Refuses the whole job ([`StoreError::Missing`]) unless the project (`Cf::Projects`)
    /// or source (`Cf::Sources`) of this key exists, as the jobs before it leave it.
    Require(Cf, Vec<u8>),
    /// Puts the value only if the key exists, as the jobs before it leave it: a change made
    /// by Inlet itself (an endpoint disabled) that must not bring back what a user deleted
    /// meanwhile.
    Update(Cf, Vec<u8>, Vec<u8>),
    /// Deletes every source of the project with this uid, and the indexes pointing at them,
    /// as the jobs before it leave them: a source created just before is deleted too.
    DeleteSourcesOf(Vec<u8>),
}

impl Change {
    pub(super) fn put(cf: Cf, key: Vec<u8>, value: Vec<u8>) -> Self {
        Self::Write(Write::Put(cf, key, value))
    }

    pub(super) fn delete(cf: Cf, key: Vec<u8>) -> Self {
        Self::Write(Write::Delete(cf, key))
    }

    pub(super) fn delete_prefix(cf: Cf, prefix: Vec<u8>) -> Self {
        Self::Write(Write::DeletePrefix(cf, prefix))
    }
}

pub(super) enum Job {
    Records {
        records: Vec<Prepared>,
        /// The key of the source they come from, when it must still exist: a broker
        /// consumer's records are refused once its source or project is deleted.
        source: Option<Vec<u8>>,
        reply: oneshot::Sender<Result<Vec<Stored>>>,
    },
    Changes {
        changes: Vec<Change>,
        /// Events the changes caused (meta events), stored with them or not at all.
        caused: Vec<Prepared>,
        reply: oneshot::Sender<Result<()>>,
    },
}

/// What a caller asks to store.
pub enum Record {
    Event(Event),
    DeadLetter(DeadLetter),
}

pub struct Incoming {
    pub record: Record,
    /// For a broker message: how a later delivery of it is recognised and not stored again.
    pub receipt: Option<Receipt>,
}

/// What identifies a broker message across deliveries, within its source.
pub enum Receipt {
    /// The message id (SQS, Pub/Sub): stored with the message, and a delivery whose receipt
    /// is stored is a redelivery.
    Id(String),
    /// A position in a log that is stored in order (a Kafka partition), `log` being its
    /// `topic/partition`. Only the log's highest stored offset is kept, and a delivery at or
    /// below it is a redelivery: one write per log and batch instead of a lookup and a
    /// write per message.
    Offset { log: String, offset: i64 },
}

/// A receipt's key: `source uid ++ message id`, or `source uid ++ topic/partition`.
enum Claim {
    Id(Vec<u8>),
    Offset { log: Vec<u8>, offset: i64 },
}

/// An [`Incoming`] with its value already serialized by the caller. The value leaves out the
/// uid and creation time: the key holds the uid, which the writer assigns.
pub(super) struct Prepared {
    record: Record,
    claim: Option<Claim>,
    value: Vec<u8>,
    /// An event's routes: a delivery is stored for each, with the event.
    routes: Vec<Route>,
}

impl Prepared {
    pub(super) fn new(incoming: Incoming, routes: Vec<Route>) -> Result<Self> {
        let Incoming {
            mut record,
            receipt,
        } = incoming;
        let (value, source_id) = match &mut record {
            Record::Event(event) => (stored_form(event)?, &event.source_id),
            Record::DeadLetter(letter) => (serde_json::to_vec(letter)?, &letter.source_id),
        };
        let claim = receipt.map(|receipt| match receipt {
            Receipt::Id(id) => Claim::Id(key(source_id, id.as_bytes())),
            Receipt::Offset { log, offset } => Claim::Offset {
                log: key(source_id, log.as_bytes()),
                offset,
            },
        });
        Ok(Self {
            record,
            claim,
            value,
            routes,
        })
    }
}

/// What became of an [`Incoming`], in the same order.
#[derive(Debug)]
pub enum Stored {
    Event(Event),
    DeadLetter(DeadLetter),
    /// Its receipt was stored before: a redelivery, not stored again.
    Redelivered,
}

enum Pending {
    Records(oneshot::Sender<Result<Vec<Stored>>>, Vec<Stored>),
    Changes(oneshot::Sender<Result<()>>),
}

pub(super) fn spawn(
    db: Arc<DB>,
    metrics: Arc<Metrics>,
    signals: Arc<Signals>,
    state: Arc<WriteState>,
) -> std::io::Result<(mpsc::Sender<Job>, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let handle = std::thread::Builder::new()
        .name("inlet-store-writer".into())
        .spawn(move || run(&db, rx, &metrics, &signals, &state))?;
    Ok((tx, handle))
}

/// Keys claimed (idempotency keys, receipts) and the highest offset per log, by records
/// staged earlier in the batch being built; probed by slice, so checking allocates nothing.
#[derive(Default)]
struct Claimed {
    idempotency: HashSet<Vec<u8>>,
    receipts: HashSet<Vec<u8>>,
    offsets: HashMap<Vec<u8>, i64>,
}

impl Claimed {
    fn extend(&mut self, other: Claimed) {
        self.idempotency.extend(other.idempotency);
        self.receipts.extend(other.receipts);
        // Only offsets above the claimed ones are staged, so the newer one is the higher.
        self.offsets.extend(other.offsets);
    }
}

fn run(
    db: &DB,
    mut jobs: mpsc::Receiver<Job>,
    metrics: &Metrics,
    signals: &Signals,
    state: &WriteState,
) {
    let mut uids = ulid::Generator::new();
    let mut sync = WriteOptions::default();
    sync.set_sync(true);
    let mut watch = Watch {
        state,
        metrics,
        failing: None,
    };
    let mut waiting = Vec::with_capacity(MAX_BATCH_JOBS);
    loop {
        let first = if watch.failing.is_none() {
            match jobs.blocking_recv() {
                Some(job) => job,
                None => break,
            }
        } else {
            match jobs.try_recv() {
                Ok(job) => job,
                Err(TryRecvError::Disconnected) => break,
                Err(TryRecvError::Empty) => {
                    std::thread::sleep(PROBE_EVERY);
                    watch.note(&db.write_opt(WriteBatch::default(), &sync), 0);
                    continue;
                }
            }
        };
        waiting.push(first);
        while waiting.len() < MAX_BATCH_JOBS {
            match jobs.try_recv() {
                Ok(job) => waiting.push(job),
                Err(_) => break,
            }
        }
        metrics.store_batch_jobs.observe(waiting.len() as f64);

        // Allocated once at its final size: grown by doubling instead, a batch of megabytes
        // was copied several times over.
        let mut batch = WriteBatch::with_capacity_bytes(waiting.iter().map(Job::bytes).sum());
        let mut claimed = Claimed::default();
        let mut staged = Staged::default();
        let mut pending = Vec::with_capacity(waiting.len());
        let mut touched = Touched::default();
        let jobs_in_batch = waiting.len();
        for job in waiting.drain(..) {
            match job {
                Job::Records {
                    mut records,
                    source,
                    reply,
                } => match check(db, &staged, source, &claimed, &mut records) {
                    Ok((redelivered, claims)) => {
                        let stored = stage(
                            db,
                            &mut batch,
                            &mut uids,
                            records,
                            &redelivered,
                            &mut touched.queued,
                        );
                        stage_offsets(db, &mut batch, &claims);
                        claimed.extend(claims);
                        pending.push(Pending::Records(reply, stored));
                    }
                    Err(e) => drop(reply.send(Err(e))),
                },
                Job::Changes {
                    changes,
                    mut caused,
                    reply,
                } => {
                    let settled = staged.settle(db, changes).and_then(|writes| {
                        let checked = check(db, &staged, None, &claimed, &mut caused)?;
                        Ok((writes, checked))
                    });
                    match settled {
                        Ok((writes, (redelivered, claims))) => {
                            for write in writes {
                                touched.note(&write);
                                staged.note(&write);
                                apply(db, &mut batch, write);
                            }
                            stage(
                                db,
                                &mut batch,
                                &mut uids,
                                caused,
                                &redelivered,
                                &mut touched.queued,
                            );
                            claimed.extend(claims);
                            pending.push(Pending::Changes(reply));
                        }
                        Err(e) => drop(reply.send(Err(e))),
                    }
                }
            }
        }

        let started = Instant::now();
        let outcome = db.write_opt(batch, &sync);
        metrics
            .store_sync_seconds
            .observe(started.elapsed().as_secs_f64());
        // Before any caller hears of the change, so that a cache of sources filled after it
        // cannot be taken for current.
        if outcome.is_ok() {
            touched.signal(signals);
        }
        watch.note(&outcome, jobs_in_batch);
        for p in pending {
            let failed = || StoreError::Unwritable(outcome.clone().unwrap_err());
            // A caller that has gone away (client disconnected) no longer needs the answer.
            match p {
                Pending::Records(reply, stored) => {
                    let _ = reply.send(match outcome {
                        Ok(()) => Ok(stored),
                        Err(_) => Err(failed()),
                    });
                }
                Pending::Changes(reply) => {
                    let _ = reply.send(match outcome {
                        Ok(()) => Ok(()),
                        Err(_) => Err(failed()),
                    });
                }
            }
        }
    }
}

/// Decides what becomes of one job's records before any is written, so that a failed
/// lookup leaves the batch untouched (a job is all or nothing). A receipt seen before, or an
/// offset at or below its log's highest, makes a record a redelivery (`true` in the list
/// returned); an idempotency key seen before, in the store or earlier in this batch, flags
/// its event as a duplicate, serialized again. Also returns what the job claims.
fn check(
    db: &DB,
    staged: &Staged,
    source: Option<Vec<u8>>,
    claimed: &Claimed,
    records: &mut [Prepared],
) -> Result<(Vec<bool>, Claimed)> {
    if let Some(source) = source {
        staged.require(db, Cf::Sources, &source)?;
    }
    let mut claims = Claimed::default();
    let mut redelivered = Vec::with_capacity(records.len());
    let stored = |cf: Cf, key: &[u8]| -> Result<bool> {
        Ok(db.get_pinned_cf(cf_handle(db, cf), key)?.is_some())
    };
    for Prepared {
        record,
        claim,
        value,
        ..
    } in records.iter_mut()
    {
        let again = match claim {
            None => false,
            Some(Claim::Id(id)) => {
                let seen = claimed.receipts.contains(id)
                    || claims.receipts.contains(id)
                    || stored(Cf::BrokerReceipts, id)?;
                if !seen {
                    claims.receipts.insert(id.clone());
                }
                seen
            }
            Some(Claim::Offset { log, offset }) => match claims.offsets.get_mut(log) {
                Some(highest) => {
                    let seen = *offset <= *highest;
                    *highest = (*highest).max(*offset);
                    seen
                }
                None => {
                    let highest = match claimed.offsets.get(log) {
                        Some(highest) => Some(*highest),
                        None => stored_offset(db, log)?,
                    };
                    let seen = highest.is_some_and(|highest| *offset <= highest);
                    if !seen {
                        claims.offsets.insert(log.clone(), *offset);
                    }
                    seen
                }
            },
        };
        redelivered.push(again);
        if let (false, Record::Event(event)) = (again, record)
            && !event.idempotency_key.is_empty()
        {
            let idem = key(&event.project_id, event.idempotency_key.as_bytes());
            if claimed.idempotency.contains(&idem)
                || claims.idempotency.contains(&idem)
                || stored(Cf::Idempotency, &idem)?
            {
                // Serialized by the caller as not a duplicate; a duplicate is rare.
                event.is_duplicate_event = true;
                *value = stored_form(event)?;
            } else {
                claims.idempotency.insert(idem);
            }
        }
    }
    Ok((redelivered, claims))
}

/// Writes one job's records, as [`check`] decided, into the batch. Each stored record gets
/// a uid: a ULID, so increasing in commit order.
fn stage(
    db: &DB,
    batch: &mut WriteBatch,
    uids: &mut ulid::Generator,
    records: Vec<Prepared>,
    redelivered: &[bool],
    queued: &mut Vec<QueueEntry>,
) -> Vec<Stored> {
    let mut stored = Vec::with_capacity(records.len());
    let now = inlet_model::now_rfc3339();
    // Keys are built in one buffer: the batch copies them.
    let mut scratch = Vec::new();
    let mut put = |cf: Cf, prefix: &str, suffix: &[u8], value: &[u8]| {
        scratch.clear();
        scratch.extend_from_slice(prefix.as_bytes());
        scratch.extend_from_slice(suffix);
        batch.put_cf(cf_handle(db, cf), &scratch, value);
    };
    for (
        Prepared {
            record,
            claim,
            value,
            routes,
        },
        &again,
    ) in records.into_iter().zip(redelivered)
    {
        if again {
            stored.push(Stored::Redelivered);
            continue;
        }
        // Monotonic within a millisecond; overflowing 2^80 ids in one millisecond cannot
        // happen in practice, and a random ULID is still unique if it did.
        let uid = uids.generate().unwrap_or_else(|_| ulid::Ulid::new());
        let uid = uid.to_string();
        if let Some(Claim::Id(id)) = &claim {
            put(Cf::BrokerReceipts, "", id, uid.as_bytes());
        }
        match record {
            Record::Event(mut event) => {
                let project = event.project_id.as_str();
                if !event.idempotency_key.is_empty() && !event.is_duplicate_event {
                    let idem = event.idempotency_key.as_bytes();
                    put(Cf::Idempotency, project, idem, uid.as_bytes());
                }
                put(Cf::Events, project, uid.as_bytes(), &value);
                if !event.source_id.is_empty() {
                    put(
                        Cf::SourceEvents,
                        &event.source_id,
                        uid.as_bytes(),
                        project.as_bytes(),
                    );
                }
                // A duplicate is stored, not sent again (as Convoy).
                if !event.is_duplicate_event {
                    for route in routes {
                        let delivery_uid = uids.generate().unwrap_or_else(|_| ulid::Ulid::new());
                        // Due at the uid's own time: uids of one writer never go back, so
                        // an endpoint's queue holds its deliveries in the order they were
                        // stored, which ordered delivery relies on.
                        let due_ms = delivery_uid.timestamp_ms();
                        let delivery_uid = delivery_uid.to_string();
                        let delivery = new_delivery(&event, &uid, route, &now);
                        // A delivery is a few hundred bytes of plain fields: serializing it
                        // cannot fail.
                        let value = serde_json::to_vec(&delivery).unwrap_or_default();
                        put(Cf::Deliveries, project, delivery_uid.as_bytes(), &value);
                        let mut index = uid.clone().into_bytes();
                        index.extend_from_slice(delivery_uid.as_bytes());
                        put(Cf::EventDeliveries, project, &index, b"");
                        if delivery.status == DeliveryStatus::Scheduled {
                            let queue = queue_key(&delivery.endpoint_id, due_ms, &delivery_uid);
                            put(Cf::DeliveryQueue, "", &queue, project.as_bytes());
                            queued.push(QueueEntry {
                                endpoint_id: delivery.endpoint_id,
                                project_id: project.to_string(),
                                due_ms,
                            });
                        }
                    }
                }
                event.uid = uid;
                stored.push(Stored::Event(event));
            }
            Record::DeadLetter(mut letter) => {
                put(Cf::DeadLetters, &letter.project_id, uid.as_bytes(), &value);
                letter.uid = uid;
                stored.push(Stored::DeadLetter(letter));
            }
        }
    }
    stored
}

/// The delivery of an event (stored as `event_uid`) through one route, due at once (or
/// `Discarded` when its endpoint is inactive).
pub(super) fn new_delivery(event: &Event, event_uid: &str, route: Route, now: &str) -> Delivery {
    let mut metadata = DeliveryMetadata::new(&route.strategy, now);
    let (status, description) = if route.discarded {
        metadata.next_send_time = None;
        (
            DeliveryStatus::Discarded,
            "the endpoint is inactive".to_string(),
        )
    } else {
        (DeliveryStatus::Scheduled, String::new())
    };
    Delivery {
        uid: String::new(),
        project_id: event.project_id.clone(),
        event_id: event_uid.to_string(),
        endpoint_id: route.endpoint_id,
        subscription_id: route.subscription_id,
        event_type: event.event_type.clone(),
        status,
        metadata,
        description,
        latency_seconds: 0.0,
        acknowledged_at: None,
        created_at: String::new(),
        updated_at: now.to_string(),
    }
}

/// Milliseconds since the Unix epoch: the time in a delivery queue key.
pub(super) fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// What a batch changed that readers are told of once it is committed.
#[derive(Default)]
struct Touched {
    sources: bool,
    routing: bool,
    /// Deliveries queued (new ones, or retries scheduled).
    queued: Vec<QueueEntry>,
}

/// A delivery queue entry put in a batch.
struct QueueEntry {
    endpoint_id: String,
    project_id: String,
    due_ms: u64,
}

impl Touched {
    fn note(&mut self, write: &Write) {
        let cf = match write {
            Write::Put(cf, ..) | Write::Delete(cf, _) | Write::DeletePrefix(cf, _) => *cf,
        };
        self.sources |= matches!(cf, Cf::Sources | Cf::SourceMasks);
        self.routing |= matches!(cf, Cf::Projects | Cf::Endpoints | Cf::Subscriptions);
        if let Write::Put(Cf::DeliveryQueue, key, value) = write
            && key.len() == 2 * UID_LEN + 8
        {
            let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
            let mut due = [0; 8];
            due.copy_from_slice(&key[UID_LEN..UID_LEN + 8]);
            self.queued.push(QueueEntry {
                endpoint_id: text(&key[..UID_LEN]),
                project_id: text(value),
                due_ms: u64::from_be_bytes(due),
            });
        }
    }

    /// Before any caller hears of the change, so that a cache filled after it cannot be
    /// taken for current.
    fn signal(&self, signals: &Signals) {
        if self.sources {
            signals.sources_version.fetch_add(1, Ordering::Release);
        }
        if self.routing {
            signals.routing_version.fetch_add(1, Ordering::Release);
        }
        for entry in &self.queued {
            signals.queued(&entry.endpoint_id, &entry.project_id, entry.due_ms);
        }
        if !self.queued.is_empty() {
            signals.deliveries_due.notify_one();
        }
    }
}

/// Writes each log's highest offset that a job stored.
fn stage_offsets(db: &DB, batch: &mut WriteBatch, claims: &Claimed) {
    for (log, offset) in &claims.offsets {
        batch.put_cf(cf_handle(db, Cf::BrokerOffsets), log, offset.to_be_bytes());
    }
}

/// The highest offset stored of a log, if any.
fn stored_offset(db: &DB, log: &[u8]) -> Result<Option<i64>> {
    let value = db.get_pinned_cf(cf_handle(db, Cf::BrokerOffsets), log)?;
    Ok(value.map(|bytes| {
        // Written by `stage_offsets` only, always 8 bytes. Anything else reads as -1: then
        // nothing counts as redelivered, and a doubt stores a message twice rather than
        // losing it.
        let bytes = bytes.as_ref().try_into().unwrap_or([0xff; 8]);
        i64::from_be_bytes(bytes)
    }))
}

/// An event's bytes on disk: without `raw` when it is just the text of `data`, which
/// halves what most events write (see `RawEncoding::Data`).
fn stored_form(event: &mut Event) -> Result<Vec<u8>> {
    if event.raw_encoding != RawEncoding::Utf8 || event.raw != event.data.get() {
        return json(event);
    }
    let raw = std::mem::take(&mut event.raw);
    event.raw_encoding = RawEncoding::Data;
    let bytes = json(event);
    event.raw = raw;
    event.raw_encoding = RawEncoding::Utf8;
    bytes
}

/// Serialized into a buffer sized for the event up front: grown from serde_json's small
/// default instead, each kilobyte-sized event was copied several times.
fn json(event: &Event) -> Result<Vec<u8>> {
    const FIELDS: usize = 512;
    let mut bytes = Vec::with_capacity(event.data.get().len() + event.raw.len() + FIELDS);
    serde_json::to_writer(&mut bytes, event)?;
    Ok(bytes)
}

/// Projects and sources as the jobs staged so far in the batch leave them (`None`:
/// deleted), over what the store holds: what a later job's requirements see. Because this
/// thread is the only writer, a check against it and the write it guards are atomic.
#[derive(Default)]
struct Staged(HashMap<(Cf, Vec<u8>), Option<Vec<u8>>>);

impl Staged {
    fn exists(&self, db: &DB, cf: Cf, key: &[u8]) -> Result<bool> {
        match self.0.get(&(cf, key.to_vec())) {
            Some(value) => Ok(value.is_some()),
            None => Ok(db.get_pinned_cf(cf_handle(db, cf), key)?.is_some()),
        }
    }

    fn require(&self, db: &DB, cf: Cf, key: &[u8]) -> Result<()> {
        if self.exists(db, cf, key)? {
            return Ok(());
        }
        Err(StoreError::Missing(match cf {
            Cf::Projects => "project",
            Cf::Endpoints => "endpoint",
            Cf::Subscriptions => "subscription",
            Cf::Deliveries => "delivery",
            _ => "source",
        }))
    }

    /// Checks a job's requirements and expands its `DeleteSourcesOf` into the changes that
    /// do it; the job is refused whole when a requirement fails.
    fn settle(&self, db: &DB, changes: Vec<Change>) -> Result<Vec<Write>> {
        let mut settled = Vec::with_capacity(changes.len());
        for change in changes {
            match change {
                Change::Require(cf, key) => self.require(db, cf, &key)?,
                Change::Update(cf, key, value) => {
                    if self.exists(db, cf, &key)? {
                        settled.push(Write::Put(cf, key, value));
                    }
                }
                Change::DeleteSourcesOf(project) => {
                    for (key, value) in self.sources_of(db, &project)? {
                        match serde_json::from_slice::<Source>(&value) {
                            Ok(source) => settled.extend(source_index_removals(&source)),
                            Err(e) => {
                                tracing::warn!(error = %e, "deleting an unreadable source; its indexes stay")
                            }
                        }
                        settled.push(Write::Delete(Cf::Sources, key));
                    }
                }
                Change::Write(write) => settled.push(write),
            }
        }
        Ok(settled)
    }

    /// The sources of a project (key and stored value), stored or staged.
    fn sources_of(&self, db: &DB, project: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut sources = HashMap::new();
        let from = rocksdb::IteratorMode::From(project, rocksdb::Direction::Forward);
        for item in db.iterator_cf(cf_handle(db, Cf::Sources), from) {
            let (key, value) = item?;
            if !key.starts_with(project) {
                break;
            }
            sources.insert(key.to_vec(), Some(value.to_vec()));
        }
        for ((cf, key), value) in &self.0 {
            if *cf == Cf::Sources && key.starts_with(project) {
                sources.insert(key.clone(), value.clone());
            }
        }
        Ok(sources
            .into_iter()
            .filter_map(|(key, value)| Some((key, value?)))
            .collect())
    }

    /// Records what a write staged does to a project or source.
    fn note(&mut self, write: &Write) {
        let (cf, key, value) = match write {
            Write::Put(cf, key, value) => (cf, key, Some(value)),
            Write::Delete(cf, key) => (cf, key, None),
            Write::DeletePrefix(..) => return,
        };
        if matches!(cf, Cf::Projects | Cf::Sources | Cf::Endpoints) {
            self.0.insert((*cf, key.clone()), value.cloned());
        }
    }
}

/// Adds one write of a settled `Job::Changes` to the batch.
fn apply(db: &DB, batch: &mut WriteBatch, write: Write) {
    match write {
        Write::Put(cf, k, v) => batch.put_cf(cf_handle(db, cf), k, v),
        Write::Delete(cf, k) => batch.delete_cf(cf_handle(db, cf), k),
        Write::DeletePrefix(cf, prefix) => {
            let mut end = prefix.clone();
            end.push(0xff);
            batch.delete_range_cf(cf_handle(db, cf), prefix, end);
        }
    }
}

/// Each batch entry also holds a type tag, a column family id and two lengths (varints).
const ENTRY_OVERHEAD: usize = 16;

impl Prepared {
    /// About what the record adds to a `WriteBatch`.
    fn bytes(&self) -> usize {
        // A record's other entries: its time index, receipt or idempotency key, each a
        // composite key of uids and a uid or offset.
        const RECORD_INDEXES: usize = 2 * (2 * UID_LEN + UID_LEN + ENTRY_OVERHEAD);
        // A delivery's record, its event index and its queue entry.
        const DELIVERY_BYTES: usize = 512;
        2 * UID_LEN
            + self.value.len()
            + ENTRY_OVERHEAD
            + RECORD_INDEXES
            + self.routes.len() * DELIVERY_BYTES
    }
}

impl Job {
    /// About what the job adds to a `WriteBatch`.
    fn bytes(&self) -> usize {
        let records = |records: &[Prepared]| records.iter().map(Prepared::bytes).sum::<usize>();
        match self {
            Job::Records { records: r, .. } => records(r),
            Job::Changes {
                changes, caused, ..
            } => {
                let changes: usize = changes
                    .iter()
                    .map(|change| {
                        ENTRY_OVERHEAD
                            + match change {
                                Change::Write(Write::Put(_, k, v)) => k.len() + v.len(),
                                Change::Write(Write::Delete(_, k)) => k.len(),
                                Change::Write(Write::DeletePrefix(_, prefix)) => {
                                    2 * prefix.len() + 1
                                }
                                Change::Require(..) => 0,
                                Change::Update(_, k, v) => k.len() + v.len(),
                                // Expanded later; about one source's row and indexes.
                                Change::DeleteSourcesOf(prefix) => 8 * prefix.len(),
                            }
                    })
                    .sum();
                changes + records(caused)
            }
        }
    }
}
