//! Group commit: one thread owns every write. It takes whatever jobs are waiting, applies
//! them to a single `WriteBatch`, writes it with the WAL synced, and only then answers each
//! caller. Concurrent requests therefore share one fsync, and because this thread is the
//! only writer, an idempotency check and the write it guards are atomic.

use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use rocksdb::{DB, WriteBatch, WriteOptions};
use tokio::sync::{mpsc, oneshot};

use super::{Cf, Result, StoreError, cf_handle, key};
use crate::metrics::Metrics;
use crate::model::{Event, rfc3339};

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
    Event {
        event: Box<Event>,
        reply: oneshot::Sender<Result<Event>>,
    },
    Writes {
        writes: Vec<Write>,
        reply: oneshot::Sender<Result<()>>,
    },
}

enum Pending {
    Event(oneshot::Sender<Result<Event>>, Box<Event>),
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

        let mut batch = WriteBatch::default();
        let mut claimed_keys = HashSet::new();
        let mut pending = Vec::with_capacity(waiting.len());
        for job in waiting.drain(..) {
            match job {
                Job::Event { event, reply } => {
                    match add_event(db, &mut batch, &mut claimed_keys, &mut uids, event) {
                        Ok(event) => pending.push(Pending::Event(reply, event)),
                        Err(e) => drop(reply.send(Err(e))),
                    }
                }
                Job::Writes { writes, reply } => {
                    for write in writes {
                        add_write(db, &mut batch, write);
                    }
                    pending.push(Pending::Writes(reply));
                }
            }
        }

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
                Pending::Event(reply, event) => {
                    let _ = reply.send(match outcome {
                        Ok(()) => Ok(*event),
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

/// Adds an event and its index entries to the batch, first deciding whether its idempotency
/// key was already claimed, in the store or earlier in this same batch.
fn add_event(
    db: &DB,
    batch: &mut WriteBatch,
    claimed_keys: &mut HashSet<Vec<u8>>,
    uids: &mut ulid::Generator,
    mut event: Box<Event>,
) -> Result<Box<Event>> {
    // Monotonic within a millisecond; overflowing 2^80 ids in one millisecond cannot happen
    // in practice, and a random ULID is still unique if it did.
    let uid = uids.generate().unwrap_or_else(|_| ulid::Ulid::new());
    event.uid = uid.to_string();
    event.created_at = rfc3339(uid.datetime().into());
    if !event.idempotency_key.is_empty() {
        let idem = key(&event.project_id, event.idempotency_key.as_bytes());
        let seen = claimed_keys.contains(&idem)
            || db
                .get_pinned_cf(cf_handle(db, Cf::Idempotency), &idem)?
                .is_some();
        event.is_duplicate_event = seen;
        if !seen {
            batch.put_cf(cf_handle(db, Cf::Idempotency), &idem, &event.uid);
            claimed_keys.insert(idem);
        }
    }
    let value = serde_json::to_vec(&event)?;
    batch.put_cf(
        cf_handle(db, Cf::Events),
        key(&event.project_id, event.uid.as_bytes()),
        value,
    );
    if !event.source_id.is_empty() {
        batch.put_cf(
            cf_handle(db, Cf::SourceEvents),
            key(&event.source_id, event.uid.as_bytes()),
            &event.project_id,
        );
    }
    Ok(event)
}

fn add_write(db: &DB, batch: &mut WriteBatch, write: Write) {
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
