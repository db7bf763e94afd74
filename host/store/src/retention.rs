//! Per-project retention (Convoy's `config.retention_policy`): what is older than a
//! project's retention is removed by a sweep, in time order, except what a pending delivery
//! still needs.
//!
//! Removed: events, their per-source index entries and idempotency keys, dead letters,
//! deliveries, the event → deliveries index and attempts, and bulk jobs finished (done or
//! failed) for longer than the retention. Never removed: projects, sources, endpoints,
//! subscriptions, API keys, running jobs, endpoint health, the delivery queue.
//!
//! Each of those is keyed `project uid ++ record uid` (the per-source index: `source uid ++
//! event uid`), and uids are ULIDs, so everything a project stored before a time is one key
//! range per column family: a sweep removes it with range deletes and then compacts the
//! range, so that the disk space comes back at once. A project's cutoff is
//! `now - retention`, held back to the oldest delivery or event that a queued (pending)
//! delivery of the project refers to, so the delivery worker always finds both. A delivery
//! is younger than its event, except that a replayed event may be older than its new
//! delivery: the event uid is read from the delivery record.
//!
//! Idempotency keys are keyed by the key, not by time. Each removed event that holds one
//! has it removed in the same write as the event (found by reading the event's value as
//! the range is walked), so a key never outlives its event: once an event is gone, a new
//! event with its key is not a duplicate. A compaction filter over a shared map of cutoffs
//! would leave the key behind its event until the next compaction, and new events with it
//! would be stored as duplicates of nothing and never delivered.
//!
//! The deletes are written straight to RocksDB, not through the group-commit writer, so a
//! sweep never waits behind the writer or holds it up. That is safe because nothing writes
//! below a cutoff: new records get new (younger) uids, and the only records rewritten in
//! place are pending deliveries (by the delivery worker, with their attempts), which the
//! cutoff never passes. One window is left: a retry or replay that queues an expired
//! record after the sweep read the queue and before its delete finds it gone: the worker
//! drops it from the queue, or ends it `Discarded` ("its event was deleted"). It asked for
//! the record as it expired; closing it would take the queue check into the writer. The
//! deletes are not synced: one lost in a crash is made again by the next sweep.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use rocksdb::{CompactOptions, IteratorMode, ReadOptions, WriteBatch};
use serde::Deserialize;

use inlet_metrics::Metrics;
use inlet_model::{parse_rfc3339, rfc3339};

use super::delivery::parse_queue_entry;
use super::jobs::{BulkJob, JobStatus};
use super::writer::unix_ms;
use super::{Cf, Result, Store, key};

/// Sweeps run at a quarter of the shortest retention configured, within these bounds: a
/// record is then removed at most a quarter later than its retention says.
const MIN_PERIOD: Duration = Duration::from_secs(1);
const MAX_PERIOD: Duration = Duration::from_secs(60);

/// Most events removed in one write: bounds the memory of a sweep (their idempotency keys)
/// and the size of its writes however much has expired.
const EVENTS_PER_WRITE: u64 = 10_000;

/// What a sweep removed, by kind: the `kind` label of `inlet_retention_removed_total`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Removed {
    events: u64,
    dead_letters: u64,
    deliveries: u64,
    attempts: u64,
    jobs: u64,
}

impl Removed {
    fn add(&mut self, other: Removed) {
        self.events += other.events;
        self.dead_letters += other.dead_letters;
        self.deliveries += other.deliveries;
        self.attempts += other.attempts;
        self.jobs += other.jobs;
    }

    fn is_empty(&self) -> bool {
        *self == Removed::default()
    }

    fn record_in(&self, metrics: &Metrics) {
        for (kind, removed) in [
            ("events", self.events),
            ("dead_letters", self.dead_letters),
            ("deliveries", self.deliveries),
            ("attempts", self.attempts),
            ("jobs", self.jobs),
        ] {
            if removed > 0 {
                metrics.retention_removed(kind, removed);
            }
        }
    }
}

/// What one sweep did.
#[derive(Debug)]
struct Swept {
    removed: Removed,
    /// The shortest retention of any project: what the next sweep's time derives from.
    shortest: Option<Duration>,
}

/// A project's cutoff, held back by the oldest pending delivery that needs it.
#[derive(Debug)]
struct Floor {
    /// The lowest uid a pending delivery of the project refers to: its own, or its event's.
    uid: String,
    /// That delivery.
    delivery_id: String,
}

/// What of an event a sweep reads: whether it holds its idempotency key.
#[derive(Deserialize)]
struct Keyed {
    #[serde(default)]
    idempotency_key: String,
    #[serde(default)]
    is_duplicate_event: bool,
}

/// The time between sweeps for the shortest retention configured.
fn period(shortest: Option<Duration>) -> Duration {
    shortest.map_or(MAX_PERIOD, |retention| {
        (retention / 4).clamp(MIN_PERIOD, MAX_PERIOD)
    })
}

/// The lowest uid of a record stored at `at` or later: keys below it were stored before.
fn uid_at(at: SystemTime) -> String {
    ulid::Ulid::from_parts(unix_ms(at), 0).to_string()
}

impl Store {
    /// Sweeps expired records every quarter of the shortest retention (1 s to 60 s) until
    /// `stop` completes, on a blocking thread; logs and counts
    /// (`inlet_retention_removed_total{kind}`) what it removes. A change to any project
    /// (seen by the routing version, checked every second) makes the period follow a new
    /// retention at once.
    pub async fn sweep_retention(
        self: Arc<Self>,
        metrics: Arc<Metrics>,
        stop: impl Future<Output = ()>,
    ) {
        let mut stop = std::pin::pin!(stop);
        let stopping = Arc::new(AtomicBool::new(false));
        let mut last = Instant::now();
        let mut next = last;
        let mut seen_version = self.routing_version();
        loop {
            let version = self.routing_version();
            let sweep_now = Instant::now() >= next;
            if sweep_now || version != seen_version {
                seen_version = version;
                let (store, flag) = (self.clone(), stopping.clone());
                let mut work = tokio::task::spawn_blocking(move || {
                    if sweep_now {
                        store.sweep_expired(SystemTime::now(), &flag)
                    } else {
                        let shortest = store.retentions()?.into_iter().map(|(_, r)| r).min();
                        Ok(Swept {
                            removed: Removed::default(),
                            shortest,
                        })
                    }
                });
                let outcome = tokio::select! {
                    outcome = &mut work => outcome,
                    () = &mut stop => {
                        stopping.store(true, Ordering::Relaxed);
                        let _ = work.await;
                        return;
                    }
                };
                if sweep_now {
                    last = Instant::now();
                }
                next = match outcome {
                    Ok(Ok(swept)) => {
                        swept.removed.record_in(&metrics);
                        last + period(swept.shortest)
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(
                            error = %e,
                            "the retention sweep failed; it runs again later"
                        );
                        last + MAX_PERIOD
                    }
                    Err(e) => {
                        tracing::error!(
                            error = %e,
                            "the retention sweep panicked; it runs again later"
                        );
                        last + MAX_PERIOD
                    }
                };
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(MIN_PERIOD) => {}
            }
        }
    }

    /// Removes, in every project with a retention policy, what was stored before
    /// `now - retention`, but nothing a pending delivery needs (see the module's comment).
    /// Returns early, having removed part, once `stopping` is set.
    ///
    /// Cost: one walk of the project list and of the delivery queue with one read per
    /// queued delivery of a project with a retention (its record, for its event's uid);
    /// then, per such project, a walk of what expired (each expired event, delivery, attempt
    /// and dead letter is read once, to count it and find idempotency keys, then removed by
    /// range), and a compaction of the expired ranges when something was removed. Nothing
    /// here holds up writes: reads are RocksDB iterators, deletes go straight to RocksDB.
    fn sweep_expired(&self, now: SystemTime, stopping: &AtomicBool) -> Result<Swept> {
        let retentions = self.retentions()?;
        let shortest = retentions.iter().map(|(_, retention)| *retention).min();
        let mut swept = Swept {
            removed: Removed::default(),
            shortest,
        };
        if retentions.is_empty() {
            return Ok(swept);
        }
        let mut floors = self.pending_floors(&retentions)?;
        for (project_id, retention) in &retentions {
            if stopping.load(Ordering::Relaxed) {
                break;
            }
            let expired_before = now
                .checked_sub(*retention)
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let target = uid_at(expired_before);
            let floor = floors.remove(project_id).filter(|floor| floor.uid < target);
            let cutoff = floor.as_ref().map_or(&target, |floor| &floor.uid);
            // Dead letters and jobs have no deliveries: nothing holds them back.
            let mut removed = self.expire_project(project_id, cutoff, &target, stopping)?;
            removed.jobs = self.expire_jobs(project_id, &target, expired_before)?;
            if !removed.is_empty() {
                tracing::info!(
                    project = %project_id,
                    events = removed.events,
                    deliveries = removed.deliveries,
                    attempts = removed.attempts,
                    dead_letters = removed.dead_letters,
                    jobs = removed.jobs,
                    before = %time_of(cutoff),
                    held_back_by_delivery = floor.as_ref().map(|f| f.delivery_id.as_str()),
                    "retention removed expired records"
                );
            }
            swept.removed.add(removed);
        }
        Ok(swept)
    }

    /// Each project with a retention policy, with its retention.
    fn retentions(&self) -> Result<Vec<(String, Duration)>> {
        let mut retentions = Vec::new();
        for project in self.projects()? {
            let Some(policy) = &project.config.retention_policy else {
                continue;
            };
            // The admin API validates it; one stored otherwise keeps everything.
            match policy.duration() {
                Ok(retention) => retentions.push((project.uid, retention)),
                Err(e) => tracing::warn!(
                    project = %project.uid,
                    error = %e,
                    "a project's retention policy does not parse; nothing of it is removed"
                ),
            }
        }
        Ok(retentions)
    }

    /// For each project of `retentions` with queued deliveries: the lowest uid one of them
    /// refers to, its own or its event's.
    fn pending_floors(&self, retentions: &[(String, Duration)]) -> Result<HashMap<String, Floor>> {
        let with_retention: HashSet<&str> =
            retentions.iter().map(|(uid, _)| uid.as_str()).collect();
        let mut floors: HashMap<String, Floor> = HashMap::new();
        for item in self
            .db
            .iterator_cf(self.cf(Cf::DeliveryQueue), IteratorMode::Start)
        {
            let (k, v) = item?;
            let Some(queued) = parse_queue_entry(&k, &v) else {
                continue;
            };
            if !with_retention.contains(queued.project_id.as_str()) {
                continue;
            }
            // A queue entry whose delivery is gone is dequeued by the worker: it needs
            // nothing, but holding back to its uid costs nothing either.
            let event_id = self
                .delivery(&queued.project_id, &queued.delivery_id)?
                .map(|delivery| delivery.event_id);
            let lowest = match event_id {
                Some(event_id) if event_id < queued.delivery_id => event_id,
                _ => queued.delivery_id.clone(),
            };
            let floor = floors.entry(queued.project_id).or_insert_with(|| Floor {
                uid: lowest.clone(),
                delivery_id: queued.delivery_id.clone(),
            });
            if lowest < floor.uid {
                *floor = Floor {
                    uid: lowest,
                    delivery_id: queued.delivery_id,
                };
            }
        }
        Ok(floors)
    }

    /// Removes a project's events, their indexes, deliveries and attempts with uids below
    /// `cutoff`, and its dead letters below `letters_cutoff`; then compacts those ranges.
    fn expire_project(
        &self,
        project_id: &str,
        cutoff: &str,
        letters_cutoff: &str,
        stopping: &AtomicBool,
    ) -> Result<Removed> {
        let sources: Vec<String> = self
            .sources(project_id)?
            .into_iter()
            .map(|source| source.uid)
            .collect();
        let mut removed = Removed::default();
        let mut from = String::new();
        loop {
            let (until, done) =
                self.expire_some(project_id, &sources, &from, cutoff, &mut removed)?;
            if done || stopping.load(Ordering::Relaxed) {
                break;
            }
            from = until;
        }
        let (start, end) = (
            key(project_id, b""),
            key(project_id, letters_cutoff.as_bytes()),
        );
        let letters = self.count(Cf::DeadLetters, start.clone(), end.clone())?;
        if letters > 0 {
            self.db
                .delete_range_cf(self.cf(Cf::DeadLetters), &start, &end)?;
            self.compact(Cf::DeadLetters, &start, &end);
            removed.dead_letters = letters;
        }
        if removed.events + removed.deliveries + removed.attempts > 0 {
            let (start, end) = (key(project_id, b""), key(project_id, cutoff.as_bytes()));
            for cf in [
                Cf::Events,
                Cf::Deliveries,
                Cf::EventDeliveries,
                Cf::Attempts,
            ] {
                self.compact(cf, &start, &end);
            }
            for source in &sources {
                let (start, end) = (key(source, b""), key(source, cutoff.as_bytes()));
                self.compact(Cf::SourceEvents, &start, &end);
            }
        }
        Ok(removed)
    }

    /// Removes, in one write, at most [`EVENTS_PER_WRITE`] of a project's expired events
    /// from `from` on, with their idempotency keys, and everything of the project keyed
    /// below the first event left (deliveries, their index, attempts, the per-source index).
    /// Returns where the next write starts, and whether `cutoff` was reached.
    fn expire_some(
        &self,
        project_id: &str,
        sources: &[String],
        from: &str,
        cutoff: &str,
        removed: &mut Removed,
    ) -> Result<(String, bool)> {
        let cf = self.cf(Cf::Events);
        let idempotency = self.cf(Cf::Idempotency);
        let mut batch = WriteBatch::default();
        let mut events = 0;
        let mut until = None;
        for item in self.db.iterator_cf_opt(
            cf,
            bounded(
                key(project_id, from.as_bytes()),
                key(project_id, cutoff.as_bytes()),
            ),
            IteratorMode::Start,
        ) {
            let (k, v) = item?;
            let uid = &k[project_id.len()..];
            if events == EVENTS_PER_WRITE {
                until = Some(String::from_utf8_lossy(uid).into_owned());
                break;
            }
            events += 1;
            // An event that does not read as one holds no key this store wrote.
            let Ok(keyed) = serde_json::from_slice::<Keyed>(&v) else {
                continue;
            };
            if keyed.idempotency_key.is_empty() || keyed.is_duplicate_event {
                continue;
            }
            let idem = key(project_id, keyed.idempotency_key.as_bytes());
            if self.db.get_pinned_cf(idempotency, &idem)?.as_deref() == Some(uid) {
                batch.delete_cf(idempotency, &idem);
            }
        }
        let done = until.is_none();
        let until = until.unwrap_or_else(|| cutoff.to_string());
        let (start, end) = (
            key(project_id, from.as_bytes()),
            key(project_id, until.as_bytes()),
        );
        let deliveries = self.count(Cf::Deliveries, start.clone(), end.clone())?;
        let attempts = self.count(Cf::Attempts, start.clone(), end.clone())?;
        if events + deliveries + attempts > 0 {
            for cf in [
                Cf::Events,
                Cf::Deliveries,
                Cf::EventDeliveries,
                Cf::Attempts,
            ] {
                batch.delete_range_cf(self.cf(cf), &start, &end);
            }
            for source in sources {
                let (start, end) = (key(source, from.as_bytes()), key(source, until.as_bytes()));
                batch.delete_range_cf(self.cf(Cf::SourceEvents), start, end);
            }
            self.db.write(batch)?;
        }
        removed.events += events;
        removed.deliveries += deliveries;
        removed.attempts += attempts;
        Ok((until, done))
    }

    /// Removes a project's jobs created before `cutoff` (a uid) that finished before
    /// `finished_before`: a running job is never removed, and a finished one stays for the
    /// retention after it finished, for its operator to read its outcome. Jobs are few (an
    /// operator makes each): they are read one by one.
    fn expire_jobs(
        &self,
        project_id: &str,
        cutoff: &str,
        finished_before: SystemTime,
    ) -> Result<u64> {
        let mut batch = WriteBatch::default();
        for item in self.db.iterator_cf_opt(
            self.cf(Cf::Jobs),
            bounded(key(project_id, b""), key(project_id, cutoff.as_bytes())),
            IteratorMode::Start,
        ) {
            let (k, v) = item?;
            // One record that does not read as a job is kept, not made a failure of the
            // whole sweep (which would stop every project's retention).
            let Ok(job) = serde_json::from_slice::<BulkJob>(&v) else {
                continue;
            };
            let finished_at = parse_rfc3339(&job.updated_at).map(SystemTime::from);
            if job.status != JobStatus::Running
                && finished_at.is_some_and(|at| at < finished_before)
            {
                batch.delete_cf(self.cf(Cf::Jobs), k);
            }
        }
        let removed = batch.len() as u64;
        if removed > 0 {
            self.db.write(batch)?;
        }
        Ok(removed)
    }

    /// How many keys lie in `[start, end)`.
    fn count(&self, cf: Cf, start: Vec<u8>, end: Vec<u8>) -> Result<u64> {
        let mut n = 0;
        for item in self
            .db
            .iterator_cf_opt(self.cf(cf), bounded(start, end), IteratorMode::Start)
        {
            item?;
            n += 1;
        }
        Ok(n)
    }

    /// Compacts a deleted range, so that its files are rewritten without it. Automatic
    /// compactions keep running meanwhile: writes are not stalled behind it.
    fn compact(&self, cf: Cf, start: &[u8], end: &[u8]) {
        let mut opts = CompactOptions::default();
        opts.set_exclusive_manual_compaction(false);
        self.db
            .compact_range_cf_opt(self.cf(cf), Some(start), Some(end), &opts);
    }
}

/// Read options bounded to `[lower, upper)`.
fn bounded(lower: Vec<u8>, upper: Vec<u8>) -> ReadOptions {
    let mut opts = ReadOptions::default();
    opts.set_iterate_lower_bound(lower);
    opts.set_iterate_upper_bound(upper);
    opts
}

/// The time a cutoff uid stands for, for the log.
fn time_of(cutoff: &str) -> String {
    ulid::Ulid::from_string(cutoff)
        .map(|uid| rfc3339(uid.datetime().into()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use inlet_model::delivery::{Attempt, Delivery, DeliveryStatus, Endpoint, Subscription};
    use inlet_model::{DeadLetter, Event, Project, RawEncoding, Source, new_uid};

    use super::*;
    use crate::writer::Change;
    use crate::{AttemptRecord, Incoming, Queued, Record, queue_key};

    const HOUR: Duration = Duration::from_secs(3600);

    fn open(dir: &std::path::Path) -> Store {
        Store::open(dir, Arc::new(Metrics::default())).unwrap()
    }

    /// An outgoing project, with `retention` when given, with an endpoint and a
    /// subscription to every event, and an HTTP source; stored.
    async fn stored_project(store: &Store, retention: Option<&str>) -> (Project, Source) {
        let mut config = serde_json::json!({});
        if let Some(policy) = retention {
            config["retention_policy"] = serde_json::json!({ "policy": policy });
        }
        let project: Project = serde_json::from_value(serde_json::json!({
            "uid": new_uid(), "name": "p", "type": "outgoing", "config": config,
            "created_at": "", "updated_at": ""
        }))
        .unwrap();
        store.create_project(&project, None).await.unwrap();
        let endpoint: Endpoint = serde_json::from_value(serde_json::json!({
            "uid": new_uid(), "project_id": project.uid, "url": "http://127.0.0.1:1/",
            "name": "e", "secrets": [], "advanced_signatures": true, "status": "active",
            "http_timeout": 10, "content_type": "application/json",
            "created_at": "", "updated_at": ""
        }))
        .unwrap();
        let subscription: Subscription = serde_json::from_value(serde_json::json!({
            "uid": new_uid(), "name": "s", "type": "api", "project_id": project.uid,
            "endpoint_id": endpoint.uid, "filter_config": {},
            "created_at": "", "updated_at": ""
        }))
        .unwrap();
        store
            .create_endpoint(&endpoint, Some(&subscription))
            .await
            .unwrap();
        let source: Source = serde_json::from_value(serde_json::json!({
            "uid": new_uid(), "project_id": project.uid,
            "mask_id": inlet_model::new_mask_id(), "name": "s", "type": "http",
            "verifier": {"type": "noop"}, "created_at": "", "updated_at": ""
        }))
        .unwrap();
        store.create_source(&source).await.unwrap();
        (project, source)
    }

    /// Stores an event of the source, with an idempotency key unless it is empty.
    async fn event(store: &Store, source: &Source, idempotency_key: &str) -> Event {
        let event: Event = serde_json::from_value(serde_json::json!({
            "event_type": "t", "project_id": source.project_id, "source_id": source.uid,
            "idempotency_key": idempotency_key, "data": {"n": 1}, "raw": "",
            "raw_encoding": "data"
        }))
        .unwrap();
        store.append_event(event).await.unwrap()
    }

    async fn dead_letter(store: &Store, source: &Source) {
        let letter = DeadLetter {
            uid: String::new(),
            project_id: source.project_id.clone(),
            source_id: source.uid.clone(),
            reason: "test".into(),
            raw: String::new(),
            raw_encoding: RawEncoding::Utf8,
            broker: Default::default(),
            created_at: String::new(),
        };
        let record = Incoming {
            record: Record::DeadLetter(letter),
            receipt: None,
        };
        store.append(vec![record]).await.unwrap();
    }

    /// Every queued delivery, as the worker reads the queue.
    fn queued(store: &Store) -> Vec<Queued> {
        let later = SystemTime::now() + HOUR;
        let mut all = Vec::new();
        for (endpoint, queued) in store.queued_endpoints().unwrap() {
            let scan = store
                .scan_endpoint(&endpoint, queued.from_ms, later, 1000, |_| false)
                .unwrap();
            all.extend(scan.due);
        }
        all
    }

    /// Ends every queued delivery with one successful attempt, except those of `pending`
    /// events.
    async fn succeed_all_but(store: &Store, pending: &[&Event]) {
        for queued in queued(store) {
            let mut delivery = store
                .delivery(&queued.project_id, &queued.delivery_id)
                .unwrap()
                .unwrap();
            if pending.iter().any(|event| event.uid == delivery.event_id) {
                continue;
            }
            delivery.status = DeliveryStatus::Success;
            let attempt: Attempt = serde_json::from_value(serde_json::json!({
                "uid": new_uid(), "url": "u", "method": "POST",
                "endpoint_id": delivery.endpoint_id, "project_id": delivery.project_id,
                "msg_id": delivery.uid, "request_http_header": {}, "requested_at": "",
                "status": true
            }))
            .unwrap();
            let record = AttemptRecord {
                delivery,
                attempt,
                queued,
                next_due_ms: None,
                health: None,
                endpoint: None,
                meta_events: Vec::new(),
            };
            store.record_attempt(record).await.unwrap();
        }
    }

    /// Keys under a prefix.
    fn keys(store: &Store, cf: Cf, prefix: &str) -> usize {
        store
            .db
            .prefix_iterator_cf(store.cf(cf), prefix.as_bytes())
            .map(|item| item.unwrap())
            .take_while(|(k, _)| k.starts_with(prefix.as_bytes()))
            .count()
    }

    /// A moment between what was stored before and what is stored after (uids have
    /// millisecond times).
    async fn moment() -> SystemTime {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let at = SystemTime::now();
        tokio::time::sleep(Duration::from_millis(3)).await;
        at
    }

    fn sweep(store: &Store, now: SystemTime) -> Swept {
        store.sweep_expired(now, &AtomicBool::new(false)).unwrap()
    }

    #[tokio::test]
    async fn expired_records_go_with_their_indexes_and_keys_and_young_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let (project, source) = stored_project(&store, Some("1h")).await;
        let (other, other_source) = stored_project(&store, None).await;
        let old_keyed = event(&store, &source, "k-old").await;
        let old_plain = event(&store, &source, "").await;
        dead_letter(&store, &source).await;
        let untouched = event(&store, &other_source, "k-old").await;
        dead_letter(&store, &other_source).await;
        succeed_all_but(&store, &[]).await;
        let between = moment().await;
        let young = event(&store, &source, "k-young").await;
        dead_letter(&store, &source).await;
        succeed_all_but(&store, &[]).await;

        // Nothing is old enough yet.
        assert!(sweep(&store, SystemTime::now()).removed.is_empty());
        let swept = sweep(&store, between + HOUR);
        assert_eq!(
            swept.removed,
            Removed {
                events: 2,
                dead_letters: 1,
                deliveries: 2,
                attempts: 2,
                jobs: 0
            }
        );
        assert_eq!(swept.shortest, Some(HOUR));
        let p = &project.uid;
        for old in [&old_keyed, &old_plain] {
            assert!(store.event(p, &old.uid).unwrap().is_none());
            assert!(store.event_deliveries(p, &old.uid).unwrap().is_empty());
        }
        assert!(store.event(p, &young.uid).unwrap().is_some());
        let kept = store.event_deliveries(p, &young.uid).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(store.attempts(p, &kept[0].uid).unwrap().len(), 1);
        assert_eq!(keys(&store, Cf::Deliveries, p), 1);
        assert_eq!(keys(&store, Cf::EventDeliveries, p), 1);
        assert_eq!(keys(&store, Cf::Attempts, p), 1);
        assert_eq!(keys(&store, Cf::SourceEvents, &source.uid), 1);
        assert_eq!(keys(&store, Cf::DeadLetters, p), 1);
        assert_eq!(keys(&store, Cf::Idempotency, p), 1);

        // The expired key is free again; the young one still marks a duplicate.
        assert!(!event(&store, &source, "k-old").await.is_duplicate_event);
        assert!(event(&store, &source, "k-young").await.is_duplicate_event);
        // The configuration stays, and another project keeps everything.
        assert!(store.project(p).unwrap().is_some());
        assert_eq!(store.sources(p).unwrap().len(), 1);
        assert_eq!(store.endpoints(p).unwrap().len(), 1);
        assert_eq!(store.subscriptions(p).unwrap().len(), 1);
        assert!(store.event(&other.uid, &untouched.uid).unwrap().is_some());
        assert_eq!(keys(&store, Cf::DeadLetters, &other.uid), 1);
        assert_eq!(keys(&store, Cf::Idempotency, &other.uid), 1);
        assert_eq!(keys(&store, Cf::Attempts, &other.uid), 1);
    }

    /// The cutoff stops at the oldest pending delivery's event: it, its delivery and what
    /// is younger stay until it ends, while what is older goes.
    #[tokio::test]
    async fn a_pending_delivery_keeps_its_event_until_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let (project, source) = stored_project(&store, Some("1h")).await;
        let older = event(&store, &source, "").await;
        succeed_all_but(&store, &[]).await;
        moment().await;
        let pending = event(&store, &source, "").await;
        moment().await;
        let younger = event(&store, &source, "").await;
        succeed_all_but(&store, &[&pending]).await;

        let later = SystemTime::now() + 2 * HOUR;
        let swept = sweep(&store, later);
        assert_eq!((swept.removed.events, swept.removed.deliveries), (1, 1));
        let p = &project.uid;
        assert!(store.event(p, &older.uid).unwrap().is_none());
        assert!(store.event(p, &pending.uid).unwrap().is_some());
        let waiting = store.event_deliveries(p, &pending.uid).unwrap();
        assert_eq!(waiting[0].status, DeliveryStatus::Scheduled);
        assert!(store.event(p, &younger.uid).unwrap().is_some());
        assert_eq!(queued(&store).len(), 1);

        succeed_all_but(&store, &[]).await;
        let swept = sweep(&store, later);
        assert_eq!(
            swept.removed,
            Removed {
                events: 2,
                dead_letters: 0,
                deliveries: 2,
                attempts: 2,
                jobs: 0
            }
        );
        assert_eq!(keys(&store, Cf::Events, p), 0);
    }

    /// A replay gives an old event a new, young delivery: while it is pending, the event it
    /// names (read from the delivery record) stays.
    #[tokio::test]
    async fn an_old_event_with_a_pending_replayed_delivery_stays() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let (project, source) = stored_project(&store, Some("1h")).await;
        let old = event(&store, &source, "").await;
        succeed_all_but(&store, &[]).await;
        moment().await;
        let original = store.event_deliveries(&project.uid, &old.uid).unwrap()[0].clone();
        let replay_uid = new_uid();
        let replay = Delivery {
            uid: String::new(),
            created_at: String::new(),
            status: DeliveryStatus::Scheduled,
            ..original.clone()
        };
        let mut index = old.uid.clone().into_bytes();
        index.extend_from_slice(replay_uid.as_bytes());
        let due = unix_ms(SystemTime::now());
        store
            .commit(vec![
                Change::put(
                    Cf::Deliveries,
                    key(&project.uid, replay_uid.as_bytes()),
                    serde_json::to_vec(&replay).unwrap(),
                ),
                Change::put(Cf::EventDeliveries, key(&project.uid, &index), Vec::new()),
                Change::put(
                    Cf::DeliveryQueue,
                    queue_key(&original.endpoint_id, due, &replay_uid),
                    project.uid.clone().into_bytes(),
                ),
            ])
            .await
            .unwrap();

        let later = SystemTime::now() + 2 * HOUR;
        assert!(sweep(&store, later).removed.is_empty());
        assert!(store.event(&project.uid, &old.uid).unwrap().is_some());
        assert_eq!(
            store
                .event_deliveries(&project.uid, &old.uid)
                .unwrap()
                .len(),
            2
        );
        succeed_all_but(&store, &[]).await;
        let swept = sweep(&store, later);
        assert_eq!((swept.removed.events, swept.removed.deliveries), (1, 2));
    }

    #[tokio::test]
    async fn finished_jobs_go_once_finished_for_the_retention_and_running_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(dir.path()));
        let (project, _) = stored_project(&store, Some("1h")).await;
        let retry = || crate::JobWork::BatchRetry {
            filter: crate::DeliveryQuery::default(),
            force: false,
            requeued: 0,
        };
        let finished = store.create_job(&project.uid, retry()).await.unwrap();
        let running = store.create_job(&project.uid, retry()).await.unwrap();
        let created = moment().await;
        let (p, j) = (project.uid.clone(), finished.uid.clone());
        // Nothing matches its filter: its first page finishes it.
        let done = tokio::task::spawn_blocking({
            let store = store.clone();
            move || store.advance_job(&p, &j).unwrap().unwrap()
        })
        .await
        .unwrap();
        assert_eq!(done.status, JobStatus::Done);
        let ended = moment().await;

        // A record that does not read as a job neither fails the sweep nor goes.
        let unreadable = key(&project.uid, b"00000000000000000000000000");
        store
            .db
            .put_cf(store.cf(Cf::Jobs), &unreadable, b"not a job")
            .unwrap();

        // Both were created more than an hour before, but it finished less than an hour ago.
        assert_eq!(sweep(&store, created + HOUR).removed.jobs, 0);
        let swept = sweep(&store, ended + HOUR);
        assert_eq!(swept.removed.jobs, 1);
        assert_eq!(store.job(&project.uid, &finished.uid).unwrap(), None);
        let kept = store.job(&project.uid, &running.uid).unwrap().unwrap();
        assert_eq!(kept.status, JobStatus::Running);
        assert_eq!(sweep(&store, ended + 2 * HOUR).removed.jobs, 0);
        let still = store.db.get_cf(store.cf(Cf::Jobs), &unreadable).unwrap();
        assert_eq!(still.as_deref(), Some(&b"not a job"[..]));
    }

    #[test]
    fn sweeps_run_at_a_quarter_of_the_shortest_retention_within_bounds() {
        assert_eq!(period(None), MAX_PERIOD);
        assert_eq!(period(Some(Duration::from_secs(2))), MIN_PERIOD);
        assert_eq!(
            period(Some(Duration::from_secs(10))),
            Duration::from_millis(2500)
        );
        assert_eq!(period(Some(HOUR)), MAX_PERIOD);
    }
}
