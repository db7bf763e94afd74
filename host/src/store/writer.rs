//! Group commit: one thread owns every write. It takes whatever jobs are waiting, applies
//! them to a single `WriteBatch`, writes it with the WAL synced, and only then answers each
//! caller. Concurrent requests therefore share one fsync, and because this thread is the
//! only writer, an idempotency check and the write it guards are atomic.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use rocksdb::{DB, WriteBatch, WriteOptions};
use tokio::sync::{mpsc, oneshot};

use super::{Cf, Result, StoreError, cf_handle, key};
use crate::metrics::Metrics;
use crate::model::{DeadLetter, Event, RawEncoding};

/// Most jobs folded into one batch; keeps a batch's latency and memory bounded.
const MAX_BATCH_JOBS: usize = 512;
/// Jobs waiting for the writer; senders wait (back-pressure) when it is full.
const QUEUE_DEPTH: usize = 4096;

#[derive(Debug)]
pub enum Write {
    Put(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
    /// Deletes every key starting with the prefix.
    DeletePrefix(Cf, Vec<u8>),
}

pub(super) enum Job {
    Records {
        records: Vec<Prepared>,
        reply: oneshot::Sender<Result<Vec<Stored>>>,
    },
    Writes {
        writes: Vec<Write>,
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

/// What identifies a broker message across deliveries.
pub enum Receipt {
    /// `source uid ++ message id` (SQS, Pub/Sub): stored with the message, and a delivery
    /// whose receipt is stored is a redelivery.
    Id(Vec<u8>),
    /// A position in a log that is stored in order (a Kafka partition), `log` being
    /// `source uid ++ topic/partition`. Only the log's highest stored offset is kept, and a
    /// delivery at or below it is a redelivery: one write per log and batch instead of a
    /// lookup and a write per message.
    Offset { log: Vec<u8>, offset: i64 },
}

/// An [`Incoming`] with its value already serialized by the caller. The value leaves out the
/// uid and creation time: the key holds the uid, which the writer assigns.
pub(super) struct Prepared {
    incoming: Incoming,
    value: Vec<u8>,
}

impl Prepared {
    pub(super) fn new(mut incoming: Incoming) -> Result<Self> {
        let value = match &mut incoming.record {
            Record::Event(event) => stored_form(event)?,
            Record::DeadLetter(letter) => serde_json::to_vec(letter)?,
        };
        Ok(Self { incoming, value })
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
    Writes(oneshot::Sender<Result<()>>),
}

pub(super) fn spawn(
    db: Arc<DB>,
    metrics: Arc<Metrics>,
) -> std::io::Result<(mpsc::Sender<Job>, JoinHandle<()>)> {
    let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
    let handle = std::thread::Builder::new()
        .name("inlet-store-writer".into())
        .spawn(move || run(&db, rx, &metrics))?;
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
    /// Only idempotency keys and receipts are ever claimed.
    fn keys(&self, cf: Cf) -> &HashSet<Vec<u8>> {
        match cf {
            Cf::Idempotency => &self.idempotency,
            _ => &self.receipts,
        }
    }

    fn contains(&self, cf: Cf, key: &[u8]) -> bool {
        self.keys(cf).contains(key)
    }

    fn extend(&mut self, other: Claimed) {
        self.idempotency.extend(other.idempotency);
        self.receipts.extend(other.receipts);
        // Only offsets above the claimed ones are staged, so the newer one is the higher.
        self.offsets.extend(other.offsets);
    }
}

fn run(db: &DB, mut jobs: mpsc::Receiver<Job>, metrics: &Metrics) {
    let mut uids = ulid::Generator::new();
    let mut sync = WriteOptions::default();
    sync.set_sync(true);
    let mut waiting = Vec::with_capacity(MAX_BATCH_JOBS);
    while let Some(first) = jobs.blocking_recv() {
        waiting.push(first);
        while waiting.len() < MAX_BATCH_JOBS {
            match jobs.try_recv() {
                Ok(job) => waiting.push(job),
                Err(_) => break,
            }
        }
        metrics.store_batch_jobs.observe(waiting.len() as f64);

        let mut claimed = Claimed::default();
        let mut writes = Vec::new();
        let mut pending = Vec::with_capacity(waiting.len());
        for job in waiting.drain(..) {
            match job {
                Job::Records { records, reply } => {
                    match stage(db, &mut claimed, &mut uids, records) {
                        Ok((staged, stored)) => {
                            writes.extend(staged);
                            pending.push(Pending::Records(reply, stored));
                        }
                        Err(e) => drop(reply.send(Err(e))),
                    }
                }
                Job::Writes {
                    writes: more,
                    reply,
                } => {
                    writes.extend(more);
                    pending.push(Pending::Writes(reply));
                }
            }
        }
        let batch = write_batch(db, writes);

        let started = Instant::now();
        let outcome = db.write_opt(batch, &sync);
        metrics
            .store_sync_seconds
            .observe(started.elapsed().as_secs_f64());
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "store batch write failed; every caller in it is told");
        }
        for p in pending {
            let failed = || StoreError::Rocks(outcome.clone().unwrap_err());
            // A caller that has gone away (client disconnected) no longer needs the answer.
            match p {
                Pending::Records(reply, stored) => {
                    let _ = reply.send(match outcome {
                        Ok(()) => Ok(stored),
                        Err(_) => Err(failed()),
                    });
                }
                Pending::Writes(reply) => {
                    let _ = reply.send(match outcome {
                        Ok(()) => Ok(()),
                        Err(_) => Err(failed()),
                    });
                }
            }
        }
    }
}

/// Turns one job's records into writes, all or nothing: each gets a uid (a ULID, so in
/// commit order), a receipt seen before (or an offset at or below its log's highest) makes
/// it a redelivery, and an idempotency key seen before (in the store or earlier in this
/// batch) flags its event as a duplicate.
fn stage(
    db: &DB,
    claimed: &mut Claimed,
    uids: &mut ulid::Generator,
    records: Vec<Prepared>,
) -> Result<(Vec<Write>, Vec<Stored>)> {
    let mut claims = Claimed::default();
    let mut writes = Vec::with_capacity(records.len() * 3);
    let mut stored = Vec::with_capacity(records.len());
    let seen = |cf: Cf, key: &[u8], claims: &Claimed| -> Result<bool> {
        Ok(claimed.contains(cf, key)
            || claims.contains(cf, key)
            || db.get_pinned_cf(cf_handle(db, cf), key)?.is_some())
    };
    let highest_offset = |log: &[u8], claims: &Claimed| -> Result<Option<i64>> {
        match claims.offsets.get(log).or_else(|| claimed.offsets.get(log)) {
            Some(offset) => Ok(Some(*offset)),
            None => stored_offset(db, log),
        }
    };
    for Prepared {
        incoming: Incoming { record, receipt },
        value,
    } in records
    {
        let redelivered = match &receipt {
            None => false,
            Some(Receipt::Id(id)) => seen(Cf::BrokerReceipts, id, &claims)?,
            Some(Receipt::Offset { log, offset }) => {
                highest_offset(log, &claims)?.is_some_and(|highest| *offset <= highest)
            }
        };
        if redelivered {
            stored.push(Stored::Redelivered);
            continue;
        }
        // Monotonic within a millisecond; overflowing 2^80 ids in one millisecond cannot
        // happen in practice, and a random ULID is still unique if it did.
        let uid = uids.generate().unwrap_or_else(|_| ulid::Ulid::new());
        let uid = uid.to_string();
        match record {
            Record::Event(mut event) => {
                if !event.idempotency_key.is_empty() {
                    let idem = key(&event.project_id, event.idempotency_key.as_bytes());
                    event.is_duplicate_event = seen(Cf::Idempotency, &idem, &claims)?;
                    if !event.is_duplicate_event {
                        writes.push(Write::Put(
                            Cf::Idempotency,
                            idem.clone(),
                            uid.clone().into(),
                        ));
                        claims.idempotency.insert(idem);
                    }
                }
                // Serialized by the caller as not a duplicate; a duplicate is rare.
                let value = if event.is_duplicate_event {
                    stored_form(&mut event)?
                } else {
                    value
                };
                writes.push(Write::Put(
                    Cf::Events,
                    key(&event.project_id, uid.as_bytes()),
                    value,
                ));
                if !event.source_id.is_empty() {
                    writes.push(Write::Put(
                        Cf::SourceEvents,
                        key(&event.source_id, uid.as_bytes()),
                        event.project_id.clone().into(),
                    ));
                }
                event.uid = uid.clone();
                stored.push(Stored::Event(event));
            }
            Record::DeadLetter(mut letter) => {
                writes.push(Write::Put(
                    Cf::DeadLetters,
                    key(&letter.project_id, uid.as_bytes()),
                    value,
                ));
                letter.uid = uid.clone();
                stored.push(Stored::DeadLetter(letter));
            }
        }
        match receipt {
            None => {}
            Some(Receipt::Id(id)) => {
                writes.push(Write::Put(Cf::BrokerReceipts, id.clone(), uid.into()));
                claims.receipts.insert(id);
            }
            Some(Receipt::Offset { log, offset }) => {
                claims.offsets.insert(log, offset);
            }
        }
    }
    for (log, offset) in &claims.offsets {
        writes.push(Write::Put(
            Cf::BrokerOffsets,
            log.clone(),
            offset.to_be_bytes().to_vec(),
        ));
    }
    claimed.extend(claims);
    Ok((writes, stored))
}

/// The highest offset stored of a log, if any.
fn stored_offset(db: &DB, log: &[u8]) -> Result<Option<i64>> {
    let value = db.get_pinned_cf(cf_handle(db, Cf::BrokerOffsets), log)?;
    Ok(value.map(|bytes| {
        // Written by `stage` only, always 8 bytes. Anything else reads as -1: then nothing
        // counts as redelivered, and a doubt stores a message twice rather than losing it.
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

/// One `WriteBatch` of all the writes, allocated once at its final size: grown by
/// doubling instead, a batch of megabytes was copied several times over.
fn write_batch(db: &DB, writes: Vec<Write>) -> WriteBatch {
    // Each entry also holds a type tag, a column family id and two lengths (varints).
    const ENTRY_OVERHEAD: usize = 16;
    let bytes: usize = writes
        .iter()
        .map(|write| match write {
            Write::Put(_, k, v) => k.len() + v.len(),
            Write::Delete(_, k) => k.len(),
            Write::DeletePrefix(_, prefix) => 2 * prefix.len() + 1,
        })
        .sum();
    let mut batch = WriteBatch::with_capacity_bytes(bytes + writes.len() * ENTRY_OVERHEAD);
    for write in writes {
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
    batch
}
