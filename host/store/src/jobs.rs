//! Sending deliveries again: a final delivery requeued, an event replayed (new deliveries
//! through its current routes), and durable bulk jobs that do either over a listing, page
//! by page.
//!
//! No delivery ever has two queue entries. Only a final delivery is requeued, and a final
//! delivery has none; every requeue holds the store's requeue lock (`Store::requeues`) from its read of the delivery
//! to the commit of its new state with its entry, so a second requeue of it waits and then
//! finds it queued. In one process that is enough: RocksDB's lock keeps the store to one
//! process, and the delivery worker, the only other writer of deliveries, writes one only
//! while it is queued, never one a requeue may take.
//!
//! A bulk job keeps its filter, counts and cursor in `Cf::Jobs`. Each page, its requeues or
//! replays and the job's new progress, is one write: after a crash the job goes on from the
//! cursor last committed, so no page is done twice and none is lost. Its bounds are fixed
//! when it is created, so what is stored after (new deliveries, replays) is not taken in.
//!
//! These calls read and write synchronously (a page reads up to [`JOB_PAGE`] records and
//! waits for the writer): make them on a blocking thread.

use std::collections::{HashMap, HashSet};
use std::sync::PoisonError;
use std::time::SystemTime;

use inlet_model::delivery::{Delivery, DeliveryStatus, EndpointStatus};
use inlet_model::{Event, new_uid, now_rfc3339};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::delivery::delivery_value;
use super::writer::{Change, Job, new_delivery, unix_ms};
use super::{
    Cf, DeliveryQuery, ListQuery, Loaded, Page, Result, Store, StoreError, key, queue_key,
};

/// Records one page of a job reads (deliveries, or events).
pub const JOB_PAGE: usize = 200;

/// Records read per page when counting what a filter matches.
const COUNT_PAGE: usize = 1000;

/// A batch retry or replay, and how far it has come.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkJob {
    pub uid: String,
    pub project_id: String,
    #[serde(flatten)]
    pub work: JobWork,
    pub status: JobStatus,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failure_reason: String,
    /// Records the filter matched, so far.
    pub matched: u64,
    /// Matched but left alone: deliveries queued already, delivered (without `force`), or
    /// whose endpoint is inactive or gone; events no subscription matches now.
    pub skipped: u64,
    /// The next page lists what is older than this uid; `None` once done.
    pub cursor: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// What a job does, with what it has done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobWork {
    /// Requeues the final deliveries the filter matches; `Success` ones only with `force`.
    BatchRetry {
        filter: DeliveryQuery,
        force: bool,
        #[serde(default)]
        requeued: u64,
    },
    /// Makes new deliveries of every event the filter matches, through its current routes.
    BatchReplay {
        filter: ListQuery,
        /// Events that got new deliveries.
        #[serde(default)]
        replayed: u64,
        /// The deliveries made.
        #[serde(default)]
        deliveries: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Running,
    Done,
    Failed,
}

/// Why a delivery was not requeued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRequeued {
    Missing,
    /// It is not final: queued for its next attempt already.
    Queued,
    /// It succeeded, and a resend was not forced.
    Delivered,
    /// Its endpoint is inactive: activate it first.
    EndpointInactive,
    /// Its endpoint was deleted.
    EndpointDeleted,
}

/// What became of one delivery asked to be requeued: the delivery as now stored, or why not.
pub type Requeued = std::result::Result<Delivery, NotRequeued>;

/// Endpoint statuses read during one requeue (`None`: deleted).
type EndpointStatuses = HashMap<String, Option<EndpointStatus>>;

impl Store {
    /// Requeues deliveries, all in one write: each final one (`Failure`, `Discarded`;
    /// `Success` only when `force`) becomes `Scheduled`, due now, without its description,
    /// with a queue entry due now. One not final is left alone (it is queued already). A
    /// delivery keeps counting its attempts (`num_trials`), so its retry budget is what its
    /// schedule has left: none for a `Failure`, whose requeue is one attempt. Ids given
    /// twice are requeued once. In the order given, one outcome per distinct id.
    pub fn requeue(
        &self,
        project_id: &str,
        delivery_ids: &[String],
        force: bool,
    ) -> Result<Vec<(String, Requeued)>> {
        let _serial = self.lock_requeues();
        let (now, now_ms) = (now_rfc3339(), unix_ms(SystemTime::now()));
        let mut changes = vec![Change::Require(
            Cf::Projects,
            project_id.as_bytes().to_vec(),
        )];
        let mut endpoints = EndpointStatuses::new();
        let mut outcomes: Vec<(String, Requeued)> = Vec::with_capacity(delivery_ids.len());
        let mut seen = HashSet::new();
        for uid in delivery_ids {
            if !seen.insert(uid) {
                continue;
            }
            let outcome = match self.delivery(project_id, uid)? {
                None => Err(NotRequeued::Missing),
                Some(mut delivery) => self
                    .requeue_changes(&mut delivery, force, &mut endpoints, &now, now_ms)?
                    .map(|requeue| {
                        changes.extend(requeue);
                        delivery
                    }),
            };
            outcomes.push((uid.clone(), outcome));
        }
        if outcomes.iter().any(|(_, outcome)| outcome.is_ok()) {
            self.commit_blocking(changes)?;
        }
        Ok(outcomes)
    }

    /// Makes new deliveries of an event through its routes as its project's subscriptions
    /// now give them (new uids, queued now; `Discarded` for an inactive endpoint), in one
    /// write. `None` when the event does not exist; no delivery when nothing matches it.
    pub fn replay(&self, project_id: &str, event_id: &str) -> Result<Option<Vec<Delivery>>> {
        let Some(event) = self.event(project_id, event_id)? else {
            return Ok(None);
        };
        let (now, now_ms) = (now_rfc3339(), unix_ms(SystemTime::now()));
        let mut changes = vec![Change::Require(
            Cf::Projects,
            project_id.as_bytes().to_vec(),
        )];
        let deliveries = self.replay_changes(&event, &now, now_ms, &mut changes)?;
        if !deliveries.is_empty() {
            self.commit_blocking(changes)?;
        }
        Ok(Some(deliveries))
    }

    /// Stores a new running job over `work`'s filter, bounded to what is stored now, and
    /// wakes the job runner.
    pub async fn create_job(&self, project_id: &str, work: JobWork) -> Result<BulkJob> {
        let now = now_rfc3339();
        // What is stored from the next millisecond on is not the job's.
        let bound = ulid::Ulid::from_parts(unix_ms(SystemTime::now()) + 1, 0).to_string();
        let before = match &work {
            JobWork::BatchRetry { filter, .. } => &filter.range.before_uid,
            JobWork::BatchReplay { filter, .. } => &filter.before_uid,
        };
        let cursor = before.clone().map_or(bound.clone(), |b| b.min(bound));
        let job = BulkJob {
            uid: new_uid(),
            project_id: project_id.to_string(),
            work,
            status: JobStatus::Running,
            failure_reason: String::new(),
            matched: 0,
            skipped: 0,
            cursor: Some(cursor),
            created_at: now.clone(),
            updated_at: now,
        };
        let changes = vec![
            Change::Require(Cf::Projects, project_id.as_bytes().to_vec()),
            put_job(&job)?,
        ];
        self.commit(changes).await?;
        self.signals.jobs_created.notify_one();
        Ok(job)
    }

    /// Notified after a job is created; a creation while nobody waits is kept for the next
    /// wait.
    pub async fn jobs_created(&self) {
        self.signals.jobs_created.notified().await
    }

    pub fn job(&self, project_id: &str, job_id: &str) -> Result<Option<BulkJob>> {
        self.get_json(Cf::Jobs, &key(project_id, job_id.as_bytes()))
    }

    /// A project's jobs, newest first.
    pub fn list_jobs(&self, project_id: &str, query: &ListQuery) -> Result<Page<BulkJob>> {
        self.walk_back(Cf::Jobs, project_id, query, |_, value| {
            let job: BulkJob = serde_json::from_slice(value)?;
            Ok(Loaded::filtered(job, value.len(), |_| true))
        })
    }

    /// Every running job of every project, oldest first: what the job runner has to do.
    pub fn running_jobs(&self) -> Result<Vec<BulkJob>> {
        let mut running: Vec<BulkJob> = self
            .scan_json::<BulkJob>(Cf::Jobs, b"")?
            .into_iter()
            .filter(|job| job.status == JobStatus::Running)
            .collect();
        running.sort_by(|a, b| a.uid.cmp(&b.uid));
        Ok(running)
    }

    /// Does the next page of a running job: its requeues or replays and the job's progress
    /// (counts, cursor, `done` after the last page) in one write. Returns the job as now
    /// stored (unchanged unless running); `None` when it is gone with its project.
    pub fn advance_job(&self, project_id: &str, job_id: &str) -> Result<Option<BulkJob>> {
        let _serial = self.lock_requeues();
        let Some(mut job) = self.job(project_id, job_id)? else {
            return Ok(None);
        };
        let Some(cursor) = job
            .cursor
            .clone()
            .filter(|_| job.status == JobStatus::Running)
        else {
            return Ok(Some(job));
        };
        let (now, now_ms) = (now_rfc3339(), unix_ms(SystemTime::now()));
        let mut changes = vec![Change::Require(
            Cf::Projects,
            project_id.as_bytes().to_vec(),
        )];
        let next_cursor = match &mut job.work {
            JobWork::BatchRetry {
                filter,
                force,
                requeued,
            } => {
                let mut query = filter.clone();
                query.range.before_uid = Some(cursor);
                query.range.per_page = JOB_PAGE;
                let page = self.list_deliveries(project_id, &query)?;
                let mut endpoints = EndpointStatuses::new();
                job.matched += page.items.len() as u64;
                for mut delivery in page.items {
                    match self.requeue_changes(
                        &mut delivery,
                        *force,
                        &mut endpoints,
                        &now,
                        now_ms,
                    )? {
                        Ok(requeue) => {
                            changes.extend(requeue);
                            *requeued += 1;
                        }
                        Err(_) => job.skipped += 1,
                    }
                }
                page.next_cursor
            }
            JobWork::BatchReplay {
                filter,
                replayed,
                deliveries,
            } => {
                let mut query = filter.clone();
                query.before_uid = Some(cursor);
                query.per_page = JOB_PAGE;
                let page = self.list_events(project_id, &query)?;
                job.matched += page.items.len() as u64;
                for event in &page.items {
                    let made = self.replay_changes(event, &now, now_ms, &mut changes)?;
                    if made.is_empty() {
                        job.skipped += 1;
                    } else {
                        *replayed += 1;
                        *deliveries += made.len() as u64;
                    }
                }
                page.next_cursor
            }
        };
        if next_cursor.is_none() {
            job.status = JobStatus::Done;
        }
        job.cursor = next_cursor;
        job.updated_at = now;
        changes.push(put_job(&job)?);
        self.commit_blocking(changes)?;
        Ok(Some(job))
    }

    /// Ends a running job as `failed`, saying why; `None` when it is gone.
    pub fn fail_job(
        &self,
        project_id: &str,
        job_id: &str,
        reason: &str,
    ) -> Result<Option<BulkJob>> {
        let _serial = self.lock_requeues();
        let Some(mut job) = self.job(project_id, job_id)? else {
            return Ok(None);
        };
        job.status = JobStatus::Failed;
        job.failure_reason = reason.to_string();
        job.updated_at = now_rfc3339();
        let changes = vec![
            Change::Require(Cf::Projects, project_id.as_bytes().to_vec()),
            put_job(&job)?,
        ];
        self.commit_blocking(changes)?;
        Ok(Some(job))
    }

    /// How many deliveries the query matches (its paging aside).
    pub fn count_deliveries(&self, project_id: &str, query: &DeliveryQuery) -> Result<u64> {
        let mut query = query.clone();
        query.range.per_page = COUNT_PAGE;
        let mut count = 0;
        loop {
            let page = self.list_deliveries(project_id, &query)?;
            count += page.items.len() as u64;
            match page.next_cursor {
                Some(cursor) => query.range.before_uid = Some(cursor),
                None => return Ok(count),
            }
        }
    }

    /// How many events the query matches (its paging aside).
    pub fn count_events(&self, project_id: &str, query: &ListQuery) -> Result<u64> {
        let mut query = query.clone();
        query.per_page = COUNT_PAGE;
        let mut count = 0;
        loop {
            let page = self.list_events(project_id, &query)?;
            count += page.items.len() as u64;
            match page.next_cursor {
                Some(cursor) => query.before_uid = Some(cursor),
                None => return Ok(count),
            }
        }
    }

    /// The writes that requeue a delivery, which it is changed to, or why it is not
    /// requeued. Only under the requeue lock.
    fn requeue_changes(
        &self,
        delivery: &mut Delivery,
        force: bool,
        endpoints: &mut EndpointStatuses,
        now: &str,
        now_ms: u64,
    ) -> Result<std::result::Result<[Change; 3], NotRequeued>> {
        if !delivery.status.is_final() {
            return Ok(Err(NotRequeued::Queued));
        }
        if delivery.status == DeliveryStatus::Success && !force {
            return Ok(Err(NotRequeued::Delivered));
        }
        let project = delivery.project_id.clone();
        let status = match endpoints.get(&delivery.endpoint_id) {
            Some(status) => *status,
            None => {
                let status = self
                    .endpoint(&project, &delivery.endpoint_id)?
                    .map(|e| e.status);
                endpoints.insert(delivery.endpoint_id.clone(), status);
                status
            }
        };
        match status {
            None => return Ok(Err(NotRequeued::EndpointDeleted)),
            Some(EndpointStatus::Inactive) => return Ok(Err(NotRequeued::EndpointInactive)),
            Some(_) => {}
        }
        delivery.status = DeliveryStatus::Scheduled;
        delivery.metadata.next_send_time = Some(now.to_string());
        delivery.description.clear();
        delivery.acknowledged_at = None;
        delivery.updated_at = now.to_string();
        let own = key(&project, delivery.uid.as_bytes());
        Ok(Ok([
            Change::Require(Cf::Deliveries, own.clone()),
            Change::put(Cf::Deliveries, own, delivery_value(delivery.clone())?),
            Change::put(
                Cf::DeliveryQueue,
                queue_key(&delivery.endpoint_id, now_ms, &delivery.uid),
                project.into_bytes(),
            ),
        ]))
    }

    /// Adds the writes of an event's new deliveries through its current routes; returns
    /// them.
    fn replay_changes(
        &self,
        event: &Event,
        now: &str,
        now_ms: u64,
        changes: &mut Vec<Change>,
    ) -> Result<Vec<Delivery>> {
        let project = event.project_id.as_str();
        let mut made = Vec::new();
        for route in self.routes(event)? {
            let mut delivery = new_delivery(event, &event.uid, route, now);
            delivery.uid = new_uid();
            let own = key(project, delivery.uid.as_bytes());
            changes.push(Change::put(
                Cf::Deliveries,
                own,
                delivery_value(delivery.clone())?,
            ));
            let mut index = event.uid.clone().into_bytes();
            index.extend_from_slice(delivery.uid.as_bytes());
            changes.push(Change::put(
                Cf::EventDeliveries,
                key(project, &index),
                Vec::new(),
            ));
            if delivery.status == DeliveryStatus::Scheduled {
                changes.push(Change::put(
                    Cf::DeliveryQueue,
                    queue_key(&delivery.endpoint_id, now_ms, &delivery.uid),
                    project.as_bytes().to_vec(),
                ));
            }
            delivery.created_at = super::created_at(&delivery.uid);
            made.push(delivery);
        }
        Ok(made)
    }

    fn lock_requeues(&self) -> std::sync::MutexGuard<'_, ()> {
        self.requeues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// [`Store::commit`] from a blocking thread.
    fn commit_blocking(&self, changes: Vec<Change>) -> Result<()> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .blocking_send(Job::Changes {
                changes,
                caused: Vec::new(),
                reply,
            })
            .map_err(|_| StoreError::Closed)?;
        answer.blocking_recv().map_err(|_| StoreError::Closed)?
    }
}

fn put_job(job: &BulkJob) -> Result<Change> {
    Ok(Change::put(
        Cf::Jobs,
        key(&job.project_id, job.uid.as_bytes()),
        serde_json::to_vec(job)?,
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use inlet_model::Project;
    use inlet_model::delivery::{Attempt, Endpoint};

    use super::*;
    use crate::delivery::tests::{endpoint, event, open, project, subscription};
    use crate::writer::{Incoming, Record};
    use crate::{AttemptRecord, Queued, UID_LEN};

    /// Runs a blocking store call as the admin API and the job runner do.
    async fn blocking<T: Send + 'static>(
        store: &Arc<Store>,
        call: impl FnOnce(&Store) -> T + Send + 'static,
    ) -> T {
        let store = store.clone();
        tokio::task::spawn_blocking(move || call(&store))
            .await
            .unwrap()
    }

    /// A project with one endpoint that receives every event.
    async fn setup(store: &Store) -> (Project, Endpoint) {
        let project = project();
        store.create_project(&project, None).await.unwrap();
        let endpoint = endpoint(&project);
        let all = subscription(&endpoint, serde_json::json!({}));
        store.create_endpoint(&endpoint, Some(&all)).await.unwrap();
        (project, endpoint)
    }

    /// Stores `n` events in one write; returns their deliveries' uids.
    async fn deliveries_of_events(store: &Store, project: &Project, n: usize) -> Vec<String> {
        let records = (0..n)
            .map(|_| Incoming {
                record: Record::Event(event(project, "t")),
                receipt: None,
            })
            .collect();
        store.append(records).await.unwrap();
        every_queue_entry(store)
            .into_iter()
            .map(|q| q.delivery_id)
            .collect()
    }

    /// Every entry of the delivery queue, whatever its due time.
    fn every_queue_entry(store: &Store) -> Vec<Queued> {
        let mut entries = Vec::new();
        for item in store
            .db
            .iterator_cf(store.cf(Cf::DeliveryQueue), rocksdb::IteratorMode::Start)
        {
            let (k, v) = item.unwrap();
            assert_eq!(k.len(), 2 * UID_LEN + 8);
            let due = u64::from_be_bytes(k[UID_LEN..UID_LEN + 8].try_into().unwrap());
            entries.push(Queued {
                endpoint_id: String::from_utf8(k[..UID_LEN].to_vec()).unwrap(),
                due_ms: due,
                delivery_id: String::from_utf8(k[UID_LEN + 8..].to_vec()).unwrap(),
                project_id: String::from_utf8(v.to_vec()).unwrap(),
            });
        }
        entries
    }

    /// Queue entries per delivery.
    fn entries_per_delivery(store: &Store) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for entry in every_queue_entry(store) {
            *counts.entry(entry.delivery_id).or_default() += 1;
        }
        counts
    }

    /// Stores, for every queued delivery, an attempt that ends it as `status`, as the
    /// delivery worker does.
    async fn finish_all(store: &Arc<Store>, status: DeliveryStatus) {
        let mut writes = tokio::task::JoinSet::new();
        for queued in every_queue_entry(store) {
            let store = store.clone();
            writes.spawn(async move {
                let mut delivery = store
                    .delivery(&queued.project_id, &queued.delivery_id)
                    .unwrap()
                    .unwrap();
                delivery.status = status;
                delivery.metadata.num_trials += 1;
                delivery.metadata.next_send_time = None;
                delivery.description = "Endpoint returned status code 500".into();
                let attempt: Attempt = serde_json::from_value(serde_json::json!({
                    "uid": new_uid(), "url": "u", "method": "POST",
                    "endpoint_id": queued.endpoint_id, "project_id": queued.project_id,
                    "msg_id": queued.delivery_id, "request_http_header": {},
                    "requested_at": ""
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
            });
        }
        while let Some(written) = writes.join_next().await {
            written.unwrap();
        }
        assert!(every_queue_entry(store).is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn only_final_deliveries_are_requeued_and_success_only_when_forced() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(dir.path()));
        let (project, endpoint) = setup(&store).await;
        let failed = deliveries_of_events(&store, &project, 1).await;
        finish_all(&store, DeliveryStatus::Failure).await;
        let delivered = deliveries_of_events(&store, &project, 1).await;
        finish_all(&store, DeliveryStatus::Success).await;
        let pending = deliveries_of_events(&store, &project, 1).await;
        store.newly_queued();
        let p = project.uid.clone();
        let missing = vec!["01ZZZZZZZZZZZZZZZZZZZZZZZZ".to_string()];
        let ids = [failed.clone(), delivered.clone(), pending, missing].concat();
        let outcomes = blocking(&store, move |s| s.requeue(&p, &ids, false))
            .await
            .unwrap();
        let why: Vec<_> = outcomes
            .iter()
            .map(|(_, o)| o.as_ref().err().copied())
            .collect();
        assert_eq!(
            why,
            [
                None,
                Some(NotRequeued::Delivered),
                Some(NotRequeued::Queued),
                Some(NotRequeued::Missing)
            ]
        );
        let requeued = outcomes[0].1.as_ref().unwrap();
        let stored = store.delivery(&project.uid, &failed[0]).unwrap().unwrap();
        assert_eq!(&stored, requeued);
        assert_eq!(stored.status, DeliveryStatus::Scheduled);
        assert_eq!(stored.metadata.num_trials, 1, "attempts made are kept");
        assert!(stored.description.is_empty());
        assert!(stored.metadata.next_send_time.is_some());
        let entries = every_queue_entry(&store);
        let of_failed: Vec<_> = entries
            .iter()
            .filter(|q| q.delivery_id == failed[0])
            .collect();
        assert_eq!(of_failed.len(), 1);
        let now_ms = unix_ms(SystemTime::now());
        assert!(of_failed[0].due_ms <= now_ms && of_failed[0].due_ms + 5_000 > now_ms);
        // The worker was told of the entry.
        assert!(store.newly_queued().contains_key(&endpoint.uid));

        // Forced, a Success is requeued; a queued one still is not.
        let (p, ids) = (project.uid.clone(), [delivered, failed.clone()].concat());
        let outcomes = blocking(&store, move |s| s.requeue(&p, &ids, true))
            .await
            .unwrap();
        assert!(outcomes[0].1.is_ok());
        assert_eq!(outcomes[1].1, Err(NotRequeued::Queued));
        // An inactive endpoint's deliveries wait for it to be activated.
        finish_all(&store, DeliveryStatus::Failure).await;
        let mut inactive = endpoint.clone();
        inactive.status = EndpointStatus::Inactive;
        store.update_endpoint(&inactive).await.unwrap();
        let (p, ids) = (project.uid.clone(), failed.clone());
        let outcomes = blocking(&store, move |s| s.requeue(&p, &ids, false))
            .await
            .unwrap();
        assert_eq!(outcomes[0].1, Err(NotRequeued::EndpointInactive));
        assert!(every_queue_entry(&store).is_empty());
    }

    /// However many requeues of one delivery run at once (or name it twice), it gets one
    /// queue entry: the others find it queued.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requeues_of_a_delivery_leave_it_one_queue_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(dir.path()));
        let (project, _) = setup(&store).await;
        let uids = deliveries_of_events(&store, &project, 20).await;
        for round in 0..5 {
            finish_all(&store, DeliveryStatus::Failure).await;
            let mut requeues = tokio::task::JoinSet::new();
            for _ in 0..8 {
                let (store, p, ids) = (store.clone(), project.uid.clone(), uids.clone());
                let twice = [ids.clone(), ids].concat();
                requeues.spawn_blocking(move || store.requeue(&p, &twice, false).unwrap());
            }
            let mut requeued = HashMap::<String, usize>::new();
            while let Some(outcomes) = requeues.join_next().await {
                for (uid, outcome) in outcomes.unwrap() {
                    if outcome.is_ok() {
                        *requeued.entry(uid).or_default() += 1;
                    }
                }
            }
            let entries = entries_per_delivery(&store);
            assert_eq!(entries.len(), uids.len(), "round {round}");
            assert!(
                entries.values().all(|&n| n == 1),
                "round {round}: {entries:?}"
            );
            assert!(
                requeued.values().all(|&n| n == 1),
                "round {round}: {requeued:?}"
            );
            assert_eq!(requeued.len(), uids.len());
        }
    }

    /// A job's page (its requeues) and its progress are one write: after every page the
    /// job's counts are what the store holds, and a store reopened mid-job (a crash) goes
    /// on from the cursor, requeueing each delivery once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_page_and_its_progress_are_one_write_and_a_reopen_resumes_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Arc::new(open(dir.path()));
        let (project, endpoint) = setup(&store).await;
        let total = 2 * JOB_PAGE + 50;
        let uids = deliveries_of_events(&store, &project, total).await;
        finish_all(&store, DeliveryStatus::Failure).await;
        let filter = DeliveryQuery {
            statuses: vec![DeliveryStatus::Failure],
            ..Default::default()
        };
        let work = JobWork::BatchRetry {
            filter,
            force: false,
            requeued: 0,
        };
        let job = store.create_job(&project.uid, work).await.unwrap();
        // Stored after the job was made: not the job's.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        deliveries_of_events(&store, &project, 1).await;
        finish_all(&store, DeliveryStatus::Failure).await;
        assert_eq!(store.running_jobs().unwrap(), vec![job.clone()]);

        let advance = |store: Arc<Store>| {
            let (p, j) = (project.uid.clone(), job.uid.clone());
            async move { blocking(&store, move |s| s.advance_job(&p, &j).unwrap().unwrap()).await }
        };
        let first = advance(store.clone()).await;
        let requeued_of = |job: &BulkJob| match job.work {
            JobWork::BatchRetry { requeued, .. } => requeued,
            _ => unreachable!(),
        };
        assert_eq!(
            (first.matched, requeued_of(&first), first.skipped),
            (JOB_PAGE as u64, JOB_PAGE as u64, 0)
        );
        assert_eq!(every_queue_entry(&store).len(), JOB_PAGE);
        assert_eq!(store.job(&project.uid, &job.uid).unwrap().unwrap(), first);

        // A crash after the first page: the reopened store goes on from its cursor.
        drop(store);
        store = Arc::new(open(dir.path()));
        assert_eq!(store.running_jobs().unwrap(), vec![first.clone()]);
        let second = advance(store.clone()).await;
        assert_eq!(requeued_of(&second), 2 * JOB_PAGE as u64);
        assert_eq!(every_queue_entry(&store).len(), 2 * JOB_PAGE);
        let last = advance(store.clone()).await;
        assert_eq!(last.status, JobStatus::Done);
        assert_eq!(last.cursor, None);
        assert_eq!(
            (last.matched, requeued_of(&last), last.skipped),
            (total as u64, total as u64, 0)
        );
        assert!(store.running_jobs().unwrap().is_empty());
        // Every delivery of the job requeued once; the one stored after it not at all.
        let entries = entries_per_delivery(&store);
        assert_eq!(entries.len(), total);
        assert!(uids.iter().all(|uid| entries.get(uid) == Some(&1)));
        assert!(
            every_queue_entry(&store)
                .iter()
                .all(|q| q.endpoint_id == endpoint.uid)
        );
        // A done job is left alone.
        assert_eq!(advance(store.clone()).await, last);
        let listed = store
            .list_jobs(
                &project.uid,
                &ListQuery {
                    per_page: 10,
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(listed.items, vec![last]);
    }

    /// A replay makes a new delivery per route, queued; a replay job does it for each event
    /// its filter matches, and counts events no subscription matches as skipped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replays_make_new_deliveries_through_the_current_routes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(open(dir.path()));
        let (project, endpoint) = setup(&store).await;
        let stored = store.append_event(event(&project, "paid")).await.unwrap();
        let other = store.append_event(event(&project, "other")).await.unwrap();
        finish_all(&store, DeliveryStatus::Success).await;
        let paid_only = subscription(&endpoint, serde_json::json!({"event_types": ["paid"]}));
        store.create_subscription(&paid_only).await.unwrap();

        let (p, e) = (project.uid.clone(), stored.uid.clone());
        let made = blocking(&store, move |s| s.replay(&p, &e))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(made.len(), 2, "both subscriptions match it now");
        let all = store.event_deliveries(&project.uid, &stored.uid).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(entries_per_delivery(&store).len(), 2);
        assert!(
            made.iter()
                .all(|d| d.status == DeliveryStatus::Scheduled && all.contains(d))
        );
        let (p, missing) = (project.uid.clone(), new_uid());
        assert_eq!(
            blocking(&store, move |s| s.replay(&p, &missing))
                .await
                .unwrap(),
            None
        );

        store.delete_subscription(&paid_only).await.unwrap();
        let all_subscriptions = store.subscriptions(&project.uid).unwrap();
        store
            .delete_subscription(&all_subscriptions[0])
            .await
            .unwrap();
        store.create_subscription(&paid_only).await.unwrap();
        let filter = ListQuery::default();
        let work = JobWork::BatchReplay {
            filter,
            replayed: 0,
            deliveries: 0,
        };
        let job = store.create_job(&project.uid, work).await.unwrap();
        let (p, j) = (project.uid.clone(), job.uid.clone());
        let done = blocking(&store, move |s| s.advance_job(&p, &j).unwrap().unwrap()).await;
        assert_eq!(done.status, JobStatus::Done);
        assert_eq!(
            done.work,
            JobWork::BatchReplay {
                filter: ListQuery::default(),
                replayed: 1,
                deliveries: 1
            }
        );
        assert_eq!((done.matched, done.skipped), (2, 1));
        assert_eq!(
            store
                .event_deliveries(&project.uid, &stored.uid)
                .unwrap()
                .len(),
            4
        );
        assert_eq!(
            store
                .event_deliveries(&project.uid, &other.uid)
                .unwrap()
                .len(),
            1
        );
    }
}
