//! What the store keeps for delivery: endpoints, subscriptions, deliveries, their queue and
//! attempts; and each project's routes, compiled from its subscriptions, with which an
//! event is stored together with its deliveries (`Store::append`).

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use rocksdb::{IteratorMode, ReadOptions};

use inlet_model::delivery::{
    Attempt, Delivery, DeliveryStatus, Endpoint, EndpointHealth, Subscription,
};
use inlet_model::{Event, with_secrets_exposed};
use inlet_route::{ProjectRoutes, Route};

use super::writer::{Change, unix_ms};
use super::{Cf, ListQuery, Loaded, Page, Result, Store, UID_LEN, created_at, key, queue_key};

/// Compiled routes per project, each valid while the routing version it was built at is
/// current: a change to a project, endpoint or subscription rebuilds them at the next
/// event of the project.
#[derive(Default)]
pub(super) struct RoutingCache(Mutex<HashMap<String, (u64, Arc<ProjectRoutes>)>>);

/// A delivery waiting in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub project_id: String,
    pub endpoint_id: String,
    pub delivery_id: String,
    /// Milliseconds since the epoch.
    pub due_ms: u64,
}

/// An endpoint with queued deliveries, as the delivery worker tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedEndpoint {
    pub project_id: String,
    /// No queued delivery of the endpoint is due before this (ms since the epoch): where
    /// its next read of the queue starts, past the entries of deliveries already done.
    pub from_ms: u64,
}

/// What one read of an endpoint's queue found.
#[derive(Debug, Default)]
pub struct EndpointScan {
    /// Due deliveries handed out, in due order.
    pub due: Vec<Queued>,
    /// Where the next read starts; `None`: nothing is left to hand out (deliveries in
    /// flight aside).
    pub from_ms: Option<u64>,
    /// An ordered endpoint's first delivery is not due before this (ms since the epoch).
    pub head_due_ms: Option<u64>,
}

/// What an attempt changed: stored in one write, which also moves or removes the
/// delivery's queue entry.
pub struct AttemptRecord {
    pub delivery: Delivery,
    pub attempt: Attempt,
    pub queued: Queued,
    /// Where the delivery's queue entry moves (ms since the epoch: its due time, or for
    /// an ordered endpoint its place, kept); `None` when the delivery is final.
    pub next_due_ms: Option<u64>,
    /// The endpoint's health after the attempt, stored with it.
    pub health: Option<EndpointHealth>,
    /// The endpoint as the attempt leaves it when it changed it (disabled after a delivery
    /// failed for good): stored with it, unless the endpoint was deleted meanwhile.
    pub endpoint: Option<Endpoint>,
    /// The meta events the attempt caused, stored (and routed) in the same write.
    pub meta_events: Vec<Event>,
}

/// Which deliveries to list (and which a bulk retry requeues: kept with its job).
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DeliveryQuery {
    /// Any of these endpoints (none: all).
    pub endpoint_ids: Vec<String>,
    pub event_id: Option<String>,
    pub subscription_id: Option<String>,
    pub event_type: Option<String>,
    /// Any of these statuses (none: all).
    pub statuses: Vec<DeliveryStatus>,
    pub range: ListQuery,
}

impl DeliveryQuery {
    fn wants(&self, d: &Delivery) -> bool {
        (self.endpoint_ids.is_empty() || self.endpoint_ids.contains(&d.endpoint_id))
            && self.event_id.as_ref().is_none_or(|e| *e == d.event_id)
            && self
                .subscription_id
                .as_ref()
                .is_none_or(|s| *s == d.subscription_id)
            && self.event_type.as_ref().is_none_or(|t| *t == d.event_type)
            && (self.statuses.is_empty() || self.statuses.contains(&d.status))
    }
}

impl Store {
    /// The routes of an event, from its project's subscriptions as last committed.
    pub(super) fn routes(&self, event: &Event) -> Result<Vec<Route>> {
        let version = self.signals.routing_version.load(Ordering::Acquire);
        let cached = {
            let cache = self
                .routing
                .0
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            cache
                .get(&event.project_id)
                .filter(|(built, _)| *built == version)
                .map(|(_, routes)| routes.clone())
        };
        let routes = match cached {
            Some(routes) => routes,
            None => {
                let Some(project) = self.project(&event.project_id)? else {
                    // The write is refused or goes nowhere; nothing to route.
                    return Ok(Vec::new());
                };
                let routes = Arc::new(ProjectRoutes::new(
                    &project,
                    &self.endpoints(&project.uid)?,
                    &self.subscriptions(&project.uid)?,
                ));
                let mut cache = self
                    .routing
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                cache.insert(project.uid, (version, routes.clone()));
                routes
            }
        };
        Ok(routes.routes(event))
    }

    /// Stores a new endpoint of an existing project, with the subscription it gets when it
    /// is created without one.
    pub async fn create_endpoint(
        &self,
        endpoint: &Endpoint,
        subscription: Option<&Subscription>,
    ) -> Result<()> {
        let mut changes = vec![
            Change::Require(Cf::Projects, endpoint.project_id.clone().into_bytes()),
            put_endpoint(endpoint)?,
        ];
        if let Some(subscription) = subscription {
            changes.push(put_subscription(subscription)?);
        }
        self.commit(changes).await
    }

    /// Stores a changed endpoint; refused when it was deleted meanwhile.
    pub async fn update_endpoint(&self, endpoint: &Endpoint) -> Result<()> {
        let changes = vec![
            Change::Require(Cf::Endpoints, endpoint_key(endpoint)),
            put_endpoint(endpoint)?,
        ];
        self.commit(changes).await
    }

    /// Deletes an endpoint and its subscriptions. Its queued deliveries are discarded by
    /// the delivery worker, which finds the endpoint gone.
    pub async fn delete_endpoint(&self, endpoint: &Endpoint) -> Result<()> {
        let mut changes = vec![
            Change::delete(Cf::Endpoints, endpoint_key(endpoint)),
            Change::delete(Cf::EndpointHealth, endpoint_key(endpoint)),
        ];
        for subscription in self.subscriptions(&endpoint.project_id)? {
            if subscription.endpoint_id == endpoint.uid {
                changes.push(Change::delete(
                    Cf::Subscriptions,
                    key(&subscription.project_id, subscription.uid.as_bytes()),
                ));
            }
        }
        self.commit(changes).await
    }

    pub fn endpoint(&self, project_id: &str, endpoint_id: &str) -> Result<Option<Endpoint>> {
        self.get_json(Cf::Endpoints, &key(project_id, endpoint_id.as_bytes()))
    }

    /// How the endpoint has been answering; `None` before its first attempt.
    pub fn endpoint_health(
        &self,
        project_id: &str,
        endpoint_id: &str,
    ) -> Result<Option<EndpointHealth>> {
        self.get_json(Cf::EndpointHealth, &key(project_id, endpoint_id.as_bytes()))
    }

    pub fn endpoints(&self, project_id: &str) -> Result<Vec<Endpoint>> {
        self.scan_json(Cf::Endpoints, project_id.as_bytes())
    }

    /// Stores a new subscription; refused unless its project and endpoint exist.
    pub async fn create_subscription(&self, subscription: &Subscription) -> Result<()> {
        let changes = vec![
            Change::Require(Cf::Projects, subscription.project_id.clone().into_bytes()),
            Change::Require(Cf::Endpoints, subscription_endpoint_key(subscription)),
            put_subscription(subscription)?,
        ];
        self.commit(changes).await
    }

    /// Stores a changed subscription; refused when it or its endpoint is gone.
    pub async fn update_subscription(&self, subscription: &Subscription) -> Result<()> {
        let own = key(&subscription.project_id, subscription.uid.as_bytes());
        let changes = vec![
            Change::Require(Cf::Subscriptions, own),
            Change::Require(Cf::Endpoints, subscription_endpoint_key(subscription)),
            put_subscription(subscription)?,
        ];
        self.commit(changes).await
    }

    pub async fn delete_subscription(&self, subscription: &Subscription) -> Result<()> {
        let own = key(&subscription.project_id, subscription.uid.as_bytes());
        self.commit(vec![Change::delete(Cf::Subscriptions, own)])
            .await
    }

    pub fn subscription(
        &self,
        project_id: &str,
        subscription_id: &str,
    ) -> Result<Option<Subscription>> {
        self.get_json(
            Cf::Subscriptions,
            &key(project_id, subscription_id.as_bytes()),
        )
    }

    pub fn subscriptions(&self, project_id: &str) -> Result<Vec<Subscription>> {
        self.scan_json(Cf::Subscriptions, project_id.as_bytes())
    }

    pub fn delivery(&self, project_id: &str, delivery_id: &str) -> Result<Option<Delivery>> {
        let value = self.db.get_pinned_cf(
            self.cf(Cf::Deliveries),
            key(project_id, delivery_id.as_bytes()),
        )?;
        match value {
            Some(bytes) => Ok(Some(read_delivery(delivery_id, &bytes)?)),
            None => Ok(None),
        }
    }

    /// A project's deliveries, newest first, in pages bounded as event listings are.
    pub fn list_deliveries(
        &self,
        project_id: &str,
        query: &DeliveryQuery,
    ) -> Result<Page<Delivery>> {
        self.walk_back(Cf::Deliveries, project_id, &query.range, |uid, value| {
            let delivery = read_delivery(uid, value)?;
            Ok(Loaded::filtered(delivery, value.len(), |d| query.wants(d)))
        })
    }

    /// Whether a listing that keeps only unrouted events must pass over this event: it has
    /// a delivery. Always `false` for other listings, which look nothing up.
    pub(super) fn routed(
        &self,
        query: &ListQuery,
        project_id: &str,
        event_id: &str,
    ) -> Result<bool> {
        if !query.unrouted {
            return Ok(false);
        }
        let prefix = key(project_id, event_id.as_bytes());
        let mut entries = self
            .db
            .prefix_iterator_cf(self.cf(Cf::EventDeliveries), &prefix);
        match entries.next() {
            Some(item) => Ok(item?.0.starts_with(&prefix)),
            None => Ok(false),
        }
    }

    /// An event's deliveries, oldest first: one per subscription it matched.
    pub fn event_deliveries(&self, project_id: &str, event_id: &str) -> Result<Vec<Delivery>> {
        let prefix = key(project_id, event_id.as_bytes());
        let mut out = Vec::new();
        for item in self
            .db
            .prefix_iterator_cf(self.cf(Cf::EventDeliveries), &prefix)
        {
            let (k, _) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let delivery_id = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            if let Some(delivery) = self.delivery(project_id, &delivery_id)? {
                out.push(delivery);
            }
        }
        Ok(out)
    }

    /// A delivery's attempts, oldest first.
    pub fn attempts(&self, project_id: &str, delivery_id: &str) -> Result<Vec<Attempt>> {
        let prefix = key(project_id, delivery_id.as_bytes());
        let mut out = Vec::new();
        for item in self.db.prefix_iterator_cf(self.cf(Cf::Attempts), &prefix) {
            let (k, v) = item?;
            if !k.starts_with(&prefix) {
                break;
            }
            let mut attempt: Attempt = serde_json::from_slice(&v)?;
            let uid = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
            attempt.created_at = created_at(&uid);
            attempt.uid = uid;
            out.push(attempt);
        }
        Ok(out)
    }

    /// Notified whenever deliveries become due: new ones stored, retries scheduled.
    pub async fn deliveries_due(&self) {
        self.signals.deliveries_due.notified().await
    }

    /// Every endpoint with queued deliveries, with its oldest due time: where the delivery
    /// worker starts (after that, [`Store::newly_queued`] tells it of new entries). One seek
    /// per endpoint.
    pub fn queued_endpoints(&self) -> Result<HashMap<String, QueuedEndpoint>> {
        let cf = self.cf(Cf::DeliveryQueue);
        let mut endpoints = HashMap::new();
        let mut from: Vec<u8> = Vec::new();
        loop {
            let mut opts = ReadOptions::default();
            opts.set_iterate_lower_bound(from.clone());
            let Some(first) = self
                .db
                .iterator_cf_opt(cf, opts, IteratorMode::Start)
                .next()
            else {
                break;
            };
            let (k, v) = first?;
            match parse_queue_entry(&k, &v) {
                Some(entry) => {
                    from = entry.endpoint_id.clone().into_bytes();
                    from.extend_from_slice(&[0xff; 8]);
                    let queued = QueuedEndpoint {
                        project_id: entry.project_id,
                        from_ms: entry.due_ms,
                    };
                    endpoints.insert(entry.endpoint_id, queued);
                }
                // Not written by this store: skip past it.
                None => from = next_key(&k),
            }
        }
        Ok(endpoints)
    }

    /// The queue entries committed since the last call, as the earliest due time per
    /// endpoint: what the delivery worker adds to what it tracks.
    pub fn newly_queued(&self) -> HashMap<String, QueuedEndpoint> {
        std::mem::take(&mut *self.signals.lock_queued())
    }

    /// Reads one endpoint's queue from `from_ms` on: hands out at most `take` deliveries
    /// due at or before `now`, passing over those `in_flight` says are being attempted.
    pub fn scan_endpoint(
        &self,
        endpoint_id: &str,
        from_ms: u64,
        now: SystemTime,
        take: usize,
        in_flight: impl Fn(&str) -> bool,
    ) -> Result<EndpointScan> {
        let now_ms = unix_ms(now);
        let mut scan = EndpointScan::default();
        for entry in self.endpoint_queue(endpoint_id, from_ms) {
            let entry = entry?;
            if in_flight(&entry.delivery_id) {
                continue;
            }
            if entry.due_ms > now_ms || scan.due.len() == take {
                // Waiting: the next read starts here.
                scan.from_ms = Some(entry.due_ms);
                return Ok(scan);
            }
            scan.due.push(entry);
        }
        Ok(scan)
    }

    /// Reads an ordered endpoint's queue from `from_ms` on: hands out its first delivery
    /// when that is due at `now` and not being attempted; never one behind it. Its place in
    /// the queue is where it was stored, its due time is the delivery's `next_send_time`.
    pub fn scan_ordered(
        &self,
        endpoint_id: &str,
        from_ms: u64,
        now: SystemTime,
        in_flight: impl Fn(&str) -> bool,
    ) -> Result<EndpointScan> {
        let mut scan = EndpointScan::default();
        if let Some(entry) = self.endpoint_queue(endpoint_id, from_ms).next() {
            let entry = entry?;
            scan.from_ms = Some(entry.due_ms);
            if in_flight(&entry.delivery_id) {
                return Ok(scan);
            }
            let due_ms = match self.delivery(&entry.project_id, &entry.delivery_id)? {
                Some(delivery) => next_send_ms(&delivery).unwrap_or(entry.due_ms),
                // Gone with its project: the worker dequeues it.
                None => entry.due_ms,
            };
            if due_ms > unix_ms(now) {
                scan.head_due_ms = Some(due_ms);
            } else {
                scan.due.push(entry);
            }
        }
        Ok(scan)
    }

    /// An endpoint's queue entries from `from_ms` on, in queue order.
    fn endpoint_queue(
        &self,
        endpoint_id: &str,
        from_ms: u64,
    ) -> impl Iterator<Item = Result<Queued>> + '_ {
        let mut opts = ReadOptions::default();
        opts.set_iterate_lower_bound(queue_key(endpoint_id, from_ms, ""));
        opts.set_iterate_upper_bound(queue_key(endpoint_id, u64::MAX, ""));
        self.db
            .iterator_cf_opt(self.cf(Cf::DeliveryQueue), opts, IteratorMode::Start)
            .filter_map(|item| match item {
                Ok((k, v)) => parse_queue_entry(&k, &v).map(Ok),
                Err(e) => Some(Err(e.into())),
            })
    }

    /// Stores an attempt's outcome in one write: the attempt, the delivery as it now is,
    /// its queue entry moved to the next due time or removed, and what the attempt caused
    /// (the endpoint's health and status, meta events). Refused ([`StoreError::Missing`])
    /// when the delivery is gone (its project was deleted).
    pub async fn record_attempt(&self, record: AttemptRecord) -> Result<()> {
        let AttemptRecord {
            delivery,
            attempt,
            queued,
            next_due_ms,
            health,
            endpoint,
            meta_events,
        } = record;
        let project = &queued.project_id;
        let own = key(project, queued.delivery_id.as_bytes());
        let mut attempt_key = own.clone();
        attempt_key.extend_from_slice(attempt.uid.as_bytes());
        let mut changes = vec![
            Change::Require(Cf::Deliveries, own.clone()),
            Change::put(Cf::Deliveries, own, delivery_value(delivery)?),
            Change::put(Cf::Attempts, attempt_key, attempt_value(attempt)?),
        ];
        if let Some(health) = health {
            let at = key(project, queued.endpoint_id.as_bytes());
            changes.push(Change::put(
                Cf::EndpointHealth,
                at,
                serde_json::to_vec(&health)?,
            ));
        }
        if let Some(endpoint) = endpoint {
            let value = endpoint_value(&endpoint)?;
            changes.push(Change::Update(
                Cf::Endpoints,
                endpoint_key(&endpoint),
                value,
            ));
        }
        changes.extend(queue_moves(&queued, next_due_ms));
        self.commit_causing(changes, meta_events).await
    }

    /// Ends a queued delivery without an attempt: stored as `delivery` (e.g. `Discarded`
    /// because its endpoint is gone), or, when the delivery itself is gone, just dequeued.
    pub async fn dequeue(&self, queued: &Queued, delivery: Option<&Delivery>) -> Result<()> {
        let mut changes = queue_moves(queued, None);
        if let Some(delivery) = delivery {
            let own = key(&queued.project_id, queued.delivery_id.as_bytes());
            changes.push(Change::Require(Cf::Deliveries, own.clone()));
            let value = delivery_value(delivery.clone())?;
            changes.push(Change::put(Cf::Deliveries, own, value));
        }
        self.commit(changes).await
    }
}

fn queue_moves(queued: &Queued, next_due_ms: Option<u64>) -> Vec<Change> {
    let mut changes = vec![Change::delete(
        Cf::DeliveryQueue,
        queue_key(&queued.endpoint_id, queued.due_ms, &queued.delivery_id),
    )];
    if let Some(due) = next_due_ms {
        changes.push(Change::put(
            Cf::DeliveryQueue,
            queue_key(&queued.endpoint_id, due, &queued.delivery_id),
            queued.project_id.clone().into_bytes(),
        ));
    }
    changes
}

/// A delivery's `next_send_time` in ms since the epoch.
fn next_send_ms(delivery: &Delivery) -> Option<u64> {
    let at = delivery.metadata.next_send_time.as_deref()?;
    let at = inlet_model::parse_rfc3339(at)?;
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

pub(super) fn parse_queue_entry(k: &[u8], v: &[u8]) -> Option<Queued> {
    if k.len() != 2 * UID_LEN + 8 || v.len() != UID_LEN {
        return None;
    }
    let text = |bytes: &[u8]| std::str::from_utf8(bytes).ok().map(str::to_string);
    Some(Queued {
        endpoint_id: text(&k[..UID_LEN])?,
        due_ms: u64::from_be_bytes(k[UID_LEN..UID_LEN + 8].try_into().ok()?),
        delivery_id: text(&k[UID_LEN + 8..])?,
        project_id: text(v)?,
    })
}

/// The smallest key after `k`.
fn next_key(k: &[u8]) -> Vec<u8> {
    let mut next = k.to_vec();
    next.push(0);
    next
}

fn read_delivery(uid: &str, bytes: &[u8]) -> Result<Delivery> {
    let mut delivery: Delivery = serde_json::from_slice(bytes)?;
    delivery.created_at = created_at(uid);
    delivery.uid = uid.to_string();
    Ok(delivery)
}

/// A delivery's stored form: without its uid and creation time, which its key holds.
pub(super) fn delivery_value(mut delivery: Delivery) -> Result<Vec<u8>> {
    delivery.uid.clear();
    delivery.created_at.clear();
    Ok(serde_json::to_vec(&delivery)?)
}

fn attempt_value(mut attempt: Attempt) -> Result<Vec<u8>> {
    attempt.uid.clear();
    attempt.created_at.clear();
    Ok(serde_json::to_vec(&attempt)?)
}

fn endpoint_key(endpoint: &Endpoint) -> Vec<u8> {
    key(&endpoint.project_id, endpoint.uid.as_bytes())
}

fn subscription_endpoint_key(subscription: &Subscription) -> Vec<u8> {
    key(
        &subscription.project_id,
        subscription.endpoint_id.as_bytes(),
    )
}

fn put_endpoint(endpoint: &Endpoint) -> Result<Change> {
    let value = endpoint_value(endpoint)?;
    Ok(Change::put(Cf::Endpoints, endpoint_key(endpoint), value))
}

/// As stored: with its secrets, which every answer masks.
fn endpoint_value(endpoint: &Endpoint) -> Result<Vec<u8>> {
    Ok(with_secrets_exposed(|| serde_json::to_vec(endpoint))?)
}

fn put_subscription(subscription: &Subscription) -> Result<Change> {
    let value = serde_json::to_vec(subscription)?;
    let own = key(&subscription.project_id, subscription.uid.as_bytes());
    Ok(Change::put(Cf::Subscriptions, own, value))
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use inlet_metrics::Metrics;
    use inlet_model::delivery::EndpointStatus;
    use inlet_model::{Project, ProjectType, new_uid};

    use super::*;

    pub(crate) fn project() -> Project {
        serde_json::from_value(serde_json::json!({
            "uid": new_uid(), "name": "p", "type": "outgoing",
            "created_at": "", "updated_at": ""
        }))
        .unwrap()
    }

    pub(crate) fn endpoint(project: &Project) -> Endpoint {
        serde_json::from_value(serde_json::json!({
            "uid": new_uid(), "project_id": project.uid, "url": "http://127.0.0.1:1/",
            "name": "e", "secrets": [], "advanced_signatures": true, "status": "active",
            "http_timeout": 10, "content_type": "application/json",
            "created_at": "", "updated_at": ""
        }))
        .unwrap()
    }

    pub(crate) fn subscription(endpoint: &Endpoint, filter: serde_json::Value) -> Subscription {
        serde_json::from_value(serde_json::json!({
            "uid": new_uid(), "name": "s", "type": "api", "project_id": endpoint.project_id,
            "endpoint_id": endpoint.uid, "filter_config": filter,
            "created_at": "", "updated_at": ""
        }))
        .unwrap()
    }

    pub(crate) fn event(project: &Project, event_type: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "event_type": event_type, "project_id": project.uid, "data": {"n": 1},
            "raw": "", "raw_encoding": "data"
        }))
        .unwrap()
    }

    pub(crate) fn open(dir: &std::path::Path) -> Store {
        Store::open(dir, Arc::new(Metrics::default())).unwrap()
    }

    /// An attempt of a queued delivery, succeeded or not.
    fn attempt(queued: &Queued, status: bool) -> Attempt {
        serde_json::from_value(serde_json::json!({
            "uid": new_uid(), "url": "u", "method": "POST", "endpoint_id": queued.endpoint_id,
            "project_id": queued.project_id, "msg_id": queued.delivery_id,
            "request_http_header": {}, "requested_at": "", "status": status
        }))
        .unwrap()
    }

    /// Every delivery due within a second, read as the worker reads the queue.
    fn due_now(store: &Store) -> Vec<Queued> {
        let later = SystemTime::now() + Duration::from_secs(1);
        let mut due = Vec::new();
        for (endpoint, queued) in store.queued_endpoints().unwrap() {
            let scan = store
                .scan_endpoint(&endpoint, queued.from_ms, later, 100, |_| false)
                .unwrap();
            due.extend(scan.due);
        }
        due
    }

    /// The event, its delivery and the delivery's queue entry are one write; a delivery
    /// whose attempt was never recorded is due again after a reopen (a crash mid-attempt).
    #[tokio::test]
    async fn an_event_is_stored_with_its_deliveries_and_they_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let project = project();
        assert_eq!(project.kind, ProjectType::Outgoing);
        store.create_project(&project, None).await.unwrap();
        let endpoint = endpoint(&project);
        let all = subscription(&endpoint, serde_json::json!({}));
        store.create_endpoint(&endpoint, Some(&all)).await.unwrap();
        let paid = subscription(&endpoint, serde_json::json!({"event_types": ["paid"]}));
        store.create_subscription(&paid).await.unwrap();

        let stored = store.append_event(event(&project, "paid")).await.unwrap();
        let other = store.append_event(event(&project, "other")).await.unwrap();
        let deliveries = store.event_deliveries(&project.uid, &stored.uid).unwrap();
        let mut subscriptions: Vec<_> = deliveries
            .iter()
            .map(|d| d.subscription_id.clone())
            .collect();
        subscriptions.sort();
        let mut expected = vec![all.uid.clone(), paid.uid.clone()];
        expected.sort();
        assert_eq!(subscriptions, expected);
        assert!(
            deliveries
                .iter()
                .all(|d| d.status == DeliveryStatus::Scheduled)
        );
        assert_eq!(
            store
                .event_deliveries(&project.uid, &other.uid)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(due_now(&store).len(), 3);

        drop(store);
        let store = open(dir.path());
        let due = due_now(&store);
        assert_eq!(due.len(), 3);
        // One recorded as a success leaves the queue; one retried moves to later.
        let (done, retried) = (&due[0], &due[1]);
        let mut delivery = store
            .delivery(&project.uid, &done.delivery_id)
            .unwrap()
            .unwrap();
        delivery.status = DeliveryStatus::Success;
        let attempt = attempt(done, true);
        let record = |queued: &Queued, delivery: Delivery, next_due_ms| AttemptRecord {
            delivery,
            attempt: attempt.clone(),
            queued: queued.clone(),
            next_due_ms,
            health: None,
            endpoint: None,
            meta_events: Vec::new(),
        };
        store
            .record_attempt(record(done, delivery, None))
            .await
            .unwrap();
        let later = unix_ms(SystemTime::now() + Duration::from_secs(3600));
        let delivery = store
            .delivery(&project.uid, &retried.delivery_id)
            .unwrap()
            .unwrap();
        store
            .record_attempt(record(retried, delivery, Some(later)))
            .await
            .unwrap();
        let due = due_now(&store);
        assert_eq!(due.len(), 1);
        assert_ne!(due[0].delivery_id, done.delivery_id);
        assert_ne!(due[0].delivery_id, retried.delivery_id);
        assert_eq!(
            store
                .attempts(&project.uid, &done.delivery_id)
                .unwrap()
                .len(),
            1
        );
    }

    /// What an attempt causes is stored in its write or not at all: its meta events, routed
    /// to the endpoint they name, and its endpoint's disabling, which never brings back an
    /// endpoint deleted meanwhile.
    #[tokio::test]
    async fn an_attempt_stores_what_it_caused_in_the_same_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let project = project();
        store.create_project(&project, None).await.unwrap();
        let failing = endpoint(&project);
        let all = subscription(&failing, serde_json::json!({}));
        store.create_endpoint(&failing, Some(&all)).await.unwrap();
        let meta_target = endpoint(&project);
        store.create_endpoint(&meta_target, None).await.unwrap();
        let meta_event = || {
            let mut meta = event(&project, "eventdelivery.failed");
            meta.is_meta_event = true;
            meta.endpoint_id = Some(meta_target.uid.clone());
            meta
        };
        store.append_event(event(&project, "t")).await.unwrap();
        let queued = due_now(&store).pop().unwrap();
        let mut delivery = store
            .delivery(&project.uid, &queued.delivery_id)
            .unwrap()
            .unwrap();
        delivery.status = DeliveryStatus::Failure;
        let attempt = attempt(&queued, false);
        let mut disabled = failing.clone();
        disabled.status = EndpointStatus::Inactive;
        let record = |delivery: Delivery, endpoint: Endpoint| AttemptRecord {
            delivery,
            attempt: attempt.clone(),
            queued: queued.clone(),
            next_due_ms: None,
            health: None,
            endpoint: Some(endpoint),
            meta_events: vec![meta_event()],
        };
        store
            .record_attempt(record(delivery.clone(), disabled.clone()))
            .await
            .unwrap();
        let events = |store: &Store| {
            let page = store
                .list_events(
                    &project.uid,
                    &crate::ListQuery {
                        per_page: 100,
                        ..Default::default()
                    },
                )
                .unwrap();
            page.items
        };
        let listed = events(&store);
        assert_eq!(listed.len(), 2);
        let meta = listed.iter().find(|e| e.is_meta_event).unwrap();
        let meta_deliveries = store.event_deliveries(&project.uid, &meta.uid).unwrap();
        assert_eq!(meta_deliveries.len(), 1);
        assert_eq!(meta_deliveries[0].endpoint_id, meta_target.uid);
        assert_eq!(meta_deliveries[0].status, DeliveryStatus::Scheduled);
        let now_stored = store.endpoint(&project.uid, &failing.uid).unwrap().unwrap();
        assert_eq!(now_stored.status, EndpointStatus::Inactive);

        // Refused (the delivery is gone with a deleted project's data): none of it stays.
        let mut gone = delivery.clone();
        gone.uid = new_uid();
        let mut refused = record(gone, disabled.clone());
        refused.queued.delivery_id = refused.delivery.uid.clone();
        assert!(matches!(
            store.record_attempt(refused).await,
            Err(crate::StoreError::Missing("delivery"))
        ));
        assert_eq!(events(&store).len(), 2);

        // An endpoint deleted before the attempt is stored stays deleted.
        store.delete_endpoint(&failing).await.unwrap();
        store
            .record_attempt(record(delivery, disabled))
            .await
            .unwrap();
        assert!(
            store
                .endpoint(&project.uid, &failing.uid)
                .unwrap()
                .is_none()
        );
        assert_eq!(events(&store).len(), 3);
    }

    /// The worker learns of every committed queue entry (new deliveries, retries) with its
    /// due time, and a read of an endpoint's queue hands out at most what it is asked for,
    /// saying where the next read starts.
    #[tokio::test]
    async fn new_queue_entries_are_reported_and_reads_resume_where_they_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let project = project();
        store.create_project(&project, None).await.unwrap();
        let endpoint = endpoint(&project);
        let all = subscription(&endpoint, serde_json::json!({}));
        store.create_endpoint(&endpoint, Some(&all)).await.unwrap();
        assert!(store.newly_queued().is_empty());
        let before = unix_ms(SystemTime::now());
        for _ in 0..3 {
            store.append_event(event(&project, "t")).await.unwrap();
        }
        let reported = store.newly_queued();
        let queued = &reported[&endpoint.uid];
        assert_eq!(queued.project_id, project.uid);
        assert!(queued.from_ms >= before);
        assert!(store.newly_queued().is_empty(), "reported once");

        let later = SystemTime::now() + Duration::from_secs(1);
        let first = store
            .scan_endpoint(&endpoint.uid, queued.from_ms, later, 2, |_| false)
            .unwrap();
        assert_eq!(first.due.len(), 2);
        let from = first.from_ms.expect("one is left");
        let held = |d: &str| first.due.iter().any(|q| q.delivery_id == d);
        let rest = store
            .scan_endpoint(&endpoint.uid, from, later, 10, held)
            .unwrap();
        assert_eq!(rest.due.len(), 1);
        assert_eq!(rest.from_ms, None);
        // Nothing is due yet an hour before.
        let early = SystemTime::now() - Duration::from_secs(3600);
        let none = store
            .scan_endpoint(&endpoint.uid, 0, early, 10, |_| false)
            .unwrap();
        assert!(none.due.is_empty() && none.from_ms.is_some());
    }

    /// A subscription created after events were routed is used for the next event at once.
    #[tokio::test]
    async fn routes_follow_subscription_changes() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let project = project();
        store.create_project(&project, None).await.unwrap();
        let endpoint = endpoint(&project);
        store.create_endpoint(&endpoint, None).await.unwrap();
        let first = store.append_event(event(&project, "t")).await.unwrap();
        assert!(
            store
                .event_deliveries(&project.uid, &first.uid)
                .unwrap()
                .is_empty()
        );
        let sub = subscription(&endpoint, serde_json::json!({}));
        store.create_subscription(&sub).await.unwrap();
        let second = store.append_event(event(&project, "t")).await.unwrap();
        assert_eq!(
            store
                .event_deliveries(&project.uid, &second.uid)
                .unwrap()
                .len(),
            1
        );
        // A subscription of a missing endpoint is refused.
        let mut orphan = subscription(&endpoint, serde_json::json!({}));
        orphan.endpoint_id = new_uid();
        assert!(matches!(
            store.create_subscription(&orphan).await,
            Err(crate::StoreError::Missing("endpoint"))
        ));
    }
}
