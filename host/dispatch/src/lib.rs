//! The delivery worker. It goes over the store's delivery queue whenever deliveries become
//! due (the store's writer tells it), an attempt ends, or the next retry is due (at the
//! latest every second), and hands out what is due, endpoint by endpoint: at most
//! [`PER_ENDPOINT`] requests in flight to one HTTP endpoint ([`PER_KAFKA_ENDPOINT`] to a
//! Kafka one) and [`CONCURRENCY`] attempts in all,
//! so that one slow endpoint never holds up the others. It reads an endpoint's queue from
//! the time before which none of its deliveries is due, which it keeps from the store's
//! reports of new entries: done deliveries leave tombstones at the front of the queue, and
//! reading past them on every pass made delivery cost grow with everything delivered. Each attempt's outcome (the attempt, the
//! delivery's new state, its queue entry moved to the next retry or removed) is one durable
//! write; until it is stored the queue entry stays, so a crash makes what was in flight due
//! again at once (at least once).
//!
//! Before handing out an endpoint's deliveries it asks the endpoint's [`gate::Gate`]: its
//! rate limit and its circuit (open after failures in a row) hold deliveries back in the
//! queue without attempting them. An ordered endpoint's deliveries are handed out one at a
//! time, in the order they were stored ([`Store::scan_ordered`]). What happens to
//! deliveries is reported as meta events ([`meta`]) where the project asks for them.

mod gate;
mod meta;

pub mod jobs;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use http::header::RETRY_AFTER;
use inlet_delivery::request::{body_of, masked_headers, request_headers};
use inlet_delivery::retry::{Jitter, retry_after};
use inlet_delivery::send::{Outcome, Outgoing, Sender};
use inlet_metrics::Metrics;
use inlet_model::delivery::{
    Attempt, Delivery, DeliveryStatus, Endpoint, EndpointHealth, EndpointStatus, EndpointType,
};
use inlet_model::{Project, new_uid, rfc3339};
use inlet_store::{AttemptRecord, Queued, QueuedEndpoint, Store, StoreError};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use gate::{Gate, Transition};
use meta::MetaEvent;

/// Most attempts in flight at once.
pub const CONCURRENCY: usize = 256;
/// Most attempts in flight to one HTTP endpoint.
pub const PER_ENDPOINT: usize = 32;
/// Most attempts in flight to one Kafka endpoint: its producer sends what is in flight to
/// the broker in batches, so more in flight makes fuller batches, not more connections.
pub const PER_KAFKA_ENDPOINT: usize = CONCURRENCY;
/// Most bytes of request bodies held by attempts in flight: events may be megabytes each.
const BODY_BUDGET: usize = 64 << 20;
/// Longest wait between two passes over the queue.
const IDLE_PASS: Duration = Duration::from_secs(1);
/// A worker that has not gone over the queue for this long is stalled (`/readyz`).
const STALLED_AFTER: Duration = Duration::from_secs(30);
/// How long a stop waits for the attempts in flight; those it does not wait for are
/// attempted again after the restart.
const DRAIN: Duration = Duration::from_secs(5);
/// After a failed store write, how long an attempt's delivery rests before it is due again.
const STORE_RETRY: Duration = Duration::from_secs(1);

pub struct Dispatcher {
    store: Arc<Store>,
    sender: Sender,
    metrics: Arc<Metrics>,
    in_flight: Mutex<InFlight>,
    bodies: Semaphore,
    config: Mutex<Config>,
    health: Mutex<Health>,
    /// A due delivery waiting longer for its attempt makes the worker unready: deliveries
    /// fall behind what arrives.
    max_lag: Duration,
}

/// What the worker holds: the attempts in flight, and the endpoints with queued
/// deliveries, each with where its next read of the queue starts.
#[derive(Default)]
struct InFlight {
    deliveries: HashSet<String>,
    per_endpoint: HashMap<String, usize>,
    queued: HashMap<String, QueuedEndpoint>,
    gates: HashMap<String, Gate>,
}

impl InFlight {
    fn claim(&mut self, queued: &Queued) {
        self.deliveries.insert(queued.delivery_id.clone());
        *self
            .per_endpoint
            .entry(queued.endpoint_id.clone())
            .or_default() += 1;
    }

    /// Adds queued deliveries of an endpoint: its next read starts no later than them.
    fn track(&mut self, endpoint_id: String, queued: QueuedEndpoint) {
        self.queued
            .entry(endpoint_id)
            .and_modify(|known| known.from_ms = known.from_ms.min(queued.from_ms))
            .or_insert(queued);
    }
}

/// Endpoints and projects as last read, valid at one routing version of the store.
#[derive(Default)]
struct Config {
    version: Option<u64>,
    endpoints: HashMap<(String, String), Option<Arc<Endpoint>>>,
    projects: HashMap<String, Option<Arc<Project>>>,
}

#[derive(Debug, Clone)]
struct Health {
    /// The last pass over the queue (at first, when the worker was made).
    last_pass: SystemTime,
    /// Age of the oldest due delivery left waiting at the last pass.
    overdue: Duration,
}

/// Whether the worker keeps up, for `/readyz`.
#[derive(Debug, Clone)]
pub enum DeliveryHealth {
    Ready,
    /// It has not gone over the queue for this long.
    Stalled(Duration),
    /// A due delivery has waited this long for its attempt, more than the limit.
    Behind {
        waited: Duration,
        limit: Duration,
    },
}

impl DeliveryHealth {
    pub fn is_ready(&self) -> bool {
        matches!(self, DeliveryHealth::Ready)
    }
}

impl fmt::Display for DeliveryHealth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeliveryHealth::Ready => f.write_str("ready"),
            DeliveryHealth::Stalled(since) => write!(
                f,
                "the delivery worker has not gone over its queue for {} s",
                since.as_secs()
            ),
            DeliveryHealth::Behind { waited, limit } => write!(
                f,
                "deliveries fall behind: one has been due for {} s without an attempt \
                 (--max-delivery-lag-secs is {}); see inlet_delivery_oldest_overdue_seconds",
                waited.as_secs(),
                limit.as_secs()
            ),
        }
    }
}

impl Dispatcher {
    pub fn new(
        store: Arc<Store>,
        sender: Sender,
        metrics: Arc<Metrics>,
        max_lag: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            sender,
            metrics,
            in_flight: Mutex::default(),
            bodies: Semaphore::new(BODY_BUDGET),
            config: Mutex::default(),
            health: Mutex::new(Health {
                last_pass: SystemTime::now(),
                overdue: Duration::ZERO,
            }),
            max_lag,
        })
    }

    pub fn health(&self) -> DeliveryHealth {
        let health = lock(&self.health).clone();
        let since = health.last_pass.elapsed().unwrap_or_default();
        if since >= STALLED_AFTER {
            return DeliveryHealth::Stalled(since);
        }
        if health.overdue > self.max_lag {
            return DeliveryHealth::Behind {
                waited: health.overdue,
                limit: self.max_lag,
            };
        }
        DeliveryHealth::Ready
    }

    /// Runs until `stop`, then waits up to [`DRAIN`] for the attempts in flight.
    pub async fn run(self: Arc<Self>, stop: CancellationToken) {
        // What is queued already (after a crash: what was in flight too).
        loop {
            match self.store.queued_endpoints() {
                Ok(queued) => {
                    let mut state = lock(&self.in_flight);
                    for (endpoint_id, queued) in queued {
                        state.track(endpoint_id, queued);
                    }
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the delivery worker cannot read its queue; trying again");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(IDLE_PASS) => {}
                    }
                }
            }
        }
        let mut attempts = JoinSet::new();
        loop {
            let wait = match self.pass(&mut attempts) {
                Ok(next_due) => next_due
                    .and_then(|due| due.duration_since(SystemTime::now()).ok())
                    .map_or(IDLE_PASS, |wait| wait.min(IDLE_PASS)),
                Err(e) => {
                    tracing::warn!(error = %e, "the delivery worker cannot read its queue; trying again");
                    IDLE_PASS
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = self.store.deliveries_due() => {}
                Some(_) = attempts.join_next(), if !attempts.is_empty() => {
                    // One pass for every attempt that has ended meanwhile.
                    while attempts.try_join_next().is_some() {}
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
        let drained = tokio::time::timeout(DRAIN, async {
            while attempts.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::info!(
                in_flight = attempts.len(),
                "stopped with delivery attempts in flight; they are attempted again after the restart"
            );
        }
    }

    /// Hands out what is due, endpoint by endpoint, each read of an endpoint's queue
    /// starting where no delivery is due before (past the entries of deliveries done);
    /// returns when the next retry is due.
    fn pass(
        self: &Arc<Self>,
        attempts: &mut JoinSet<()>,
    ) -> Result<Option<SystemTime>, StoreError> {
        let now = SystemTime::now();
        let now_ms = to_ms(now);
        self.refresh_config();
        let mut handed = Vec::new();
        let mut next_due: Option<u64> = None;
        let mut oldest_waiting: Option<u64> = None;
        let earliest =
            |slot: &mut Option<u64>, ms: u64| *slot = Some(slot.map_or(ms, |t| t.min(ms)));
        {
            let mut state = lock(&self.in_flight);
            for (endpoint_id, queued) in self.store.newly_queued() {
                state.track(endpoint_id, queued);
            }
            let mut free = CONCURRENCY.saturating_sub(state.deliveries.len());
            let tracked: Vec<(String, QueuedEndpoint)> = state
                .queued
                .iter()
                .map(|(e, q)| (e.clone(), q.clone()))
                .collect();
            for (endpoint_id, queued) in tracked {
                if queued.from_ms > now_ms {
                    earliest(&mut next_due, queued.from_ms);
                    continue;
                }
                let endpoint = match self.endpoint(&queued.project_id, &endpoint_id) {
                    // Paused deliveries wait on purpose: not overdue.
                    Ok(Some(e)) if e.status == EndpointStatus::Paused => continue,
                    Ok(endpoint) => endpoint,
                    Err(e) => {
                        tracing::warn!(endpoint = %endpoint_id, error = %e, "reading an endpoint failed; its deliveries wait");
                        continue;
                    }
                };
                // Deliveries of an endpoint that is gone or inactive are handed out to be
                // discarded, without gate or order.
                let active = endpoint
                    .as_ref()
                    .filter(|e| e.status == EndpointStatus::Active);
                let busy = state.per_endpoint.get(&endpoint_id).copied().unwrap_or(0);
                let limit = match endpoint.as_ref().map(|e| e.kind) {
                    Some(EndpointType::Kafka) => PER_KAFKA_ENDPOINT,
                    _ => PER_ENDPOINT,
                };
                let mut take = limit.saturating_sub(busy).min(free);
                if let Some(endpoint) = active {
                    let breaker = match self.project(&queued.project_id) {
                        Ok(Some(project)) => project.config.circuit_breaker,
                        Ok(None) => Default::default(),
                        Err(e) => {
                            tracing::warn!(project = %queued.project_id, error = %e, "reading a project failed; its deliveries wait");
                            continue;
                        }
                    };
                    let gate = self.gate(&mut state.gates, endpoint);
                    match gate.circuit_allows(&breaker, now_ms, take) {
                        Ok(allowed) => take = allowed,
                        // An open circuit holds its deliveries on purpose: not overdue.
                        Err(until) => {
                            if let Some(until) = until {
                                earliest(&mut next_due, until);
                            }
                            continue;
                        }
                    }
                }
                if take == 0 {
                    earliest(&mut oldest_waiting, queued.from_ms);
                    continue;
                }
                let in_flight = |delivery: &str| state.deliveries.contains(delivery);
                let ordered = active.is_some_and(|e| e.ordered);
                let mut scan = if ordered {
                    self.store
                        .scan_ordered(&endpoint_id, queued.from_ms, now, in_flight)?
                } else {
                    self.store
                        .scan_endpoint(&endpoint_id, queued.from_ms, now, take, in_flight)?
                };
                // Held back on purpose (by the rate limit or the order): not overdue.
                let mut held = ordered;
                if let Some(endpoint) = active {
                    let gate = self.gate(&mut state.gates, endpoint);
                    let allowed = scan
                        .due
                        .iter()
                        .take_while(|_| match gate.rate_allows(endpoint) {
                            Ok(()) => true,
                            Err(wait) => {
                                earliest(&mut next_due, now_ms + duration_ms(wait));
                                false
                            }
                        })
                        .count();
                    if let Some(first_left) = scan.due.get(allowed).map(|q| q.due_ms) {
                        scan.from_ms = Some(scan.from_ms.map_or(first_left, |f| f.min(first_left)));
                        scan.due.truncate(allowed);
                        held = true;
                    }
                    gate.handed(scan.due.len());
                }
                if let Some(head_due) = scan.head_due_ms {
                    earliest(&mut next_due, head_due);
                }
                free -= scan.due.len();
                match scan.from_ms {
                    Some(from_ms) => {
                        if from_ms > now_ms {
                            earliest(&mut next_due, from_ms);
                        } else if !held {
                            earliest(&mut oldest_waiting, from_ms);
                        }
                        if let Some(tracked) = state.queued.get_mut(&endpoint_id) {
                            tracked.from_ms = from_ms;
                        }
                    }
                    None => {
                        state.queued.remove(&endpoint_id);
                    }
                }
                for queued in &scan.due {
                    state.claim(queued);
                }
                handed.extend(scan.due);
            }
            self.metrics
                .deliveries_in_flight
                .set(state.deliveries.len() as i64);
        }
        let overdue = oldest_waiting
            .map(|due| now.duration_since(from_ms(due)).unwrap_or_default())
            .unwrap_or_default();
        *lock(&self.health) = Health {
            last_pass: now,
            overdue,
        };
        self.metrics
            .delivery_oldest_overdue_seconds
            .set(i64::try_from(overdue.as_secs()).unwrap_or(i64::MAX));
        self.metrics
            .delivery_worker_last_pass
            .set(i64::try_from(unix_seconds(now)).unwrap_or(0));
        for queued in handed {
            let dispatcher = self.clone();
            attempts.spawn(async move {
                let slot = EndpointSlot {
                    dispatcher: &dispatcher,
                    endpoint_id: &queued.endpoint_id,
                };
                let outcome = dispatcher.handle(&queued, slot).await;
                let failed = outcome.is_err();
                if let Err(e) = outcome {
                    tracing::warn!(delivery = %queued.delivery_id, error = %e, "storing a delivery's outcome failed; it is attempted again");
                    tokio::time::sleep(STORE_RETRY).await;
                }
                dispatcher.release(&queued, failed);
            });
        }
        Ok(next_due.map(from_ms))
    }

    /// One queued delivery: attempted, or discarded when its endpoint is gone.
    async fn handle(&self, queued: &Queued, slot: EndpointSlot<'_>) -> Result<(), StoreError> {
        let endpoint = self.endpoint(&queued.project_id, &queued.endpoint_id)?;
        let project = self.project(&queued.project_id)?;
        match (endpoint, project) {
            (Some(endpoint), _) if endpoint.status == EndpointStatus::Inactive => {
                self.discard(queued, "the endpoint is inactive").await
            }
            (Some(endpoint), Some(project)) => {
                self.attempt(queued, &endpoint, &project, slot).await
            }
            _ => {
                self.forget_endpoint(&queued.endpoint_id);
                self.discard(queued, "its endpoint was deleted").await
            }
        }
    }

    /// Ends an attempt's hold on its delivery, once its outcome is stored. When it could
    /// not be, the delivery's queue entry is still where it was: the next read of its
    /// endpoint starts there again.
    fn release(&self, queued: &Queued, failed: bool) {
        let mut state = lock(&self.in_flight);
        state.deliveries.remove(&queued.delivery_id);
        if failed {
            let again = QueuedEndpoint {
                project_id: queued.project_id.clone(),
                from_ms: queued.due_ms,
            };
            state.track(queued.endpoint_id.clone(), again);
        }
        self.metrics
            .deliveries_in_flight
            .set(state.deliveries.len() as i64);
    }

    /// One attempt of a queued delivery, and its outcome stored. The endpoint's slot is
    /// given back as soon as the endpoint has answered.
    async fn attempt(
        &self,
        queued: &Queued,
        endpoint: &Endpoint,
        project: &Project,
        slot: EndpointSlot<'_>,
    ) -> Result<(), StoreError> {
        let Some(mut delivery) = self
            .store
            .delivery(&queued.project_id, &queued.delivery_id)?
        else {
            return self.store.dequeue(queued, None).await;
        };
        if delivery.status.is_final() {
            return self.store.dequeue(queued, None).await;
        }
        let Some(event) = self.store.event(&queued.project_id, &delivery.event_id)? else {
            return self.discard(queued, "its event was deleted").await;
        };
        let requested_at = SystemTime::now();
        let now_unix = i64::try_from(unix_seconds(requested_at)).unwrap_or(0);
        // A configuration that cannot make a request (e.g. no live secret left) is a failed
        // attempt, recorded and retried like any: fixing the endpoint lets the retry pass.
        let request = body_of(&event).and_then(|body| {
            let headers = request_headers(
                endpoint,
                &project.config.signature,
                &event,
                &delivery.uid,
                now_unix,
                &body,
            )?;
            Ok(Outgoing {
                target: inlet_delivery::send::Target::of(endpoint, &event)?,
                headers,
                body,
                timeout: Duration::from_secs(endpoint.http_timeout.max(1)),
            })
        });
        let (attempt, outcome) = match request {
            Ok(request) => {
                let weight =
                    u32::try_from(request.body.len().clamp(1, BODY_BUDGET)).unwrap_or(u32::MAX);
                let _held = self
                    .bodies
                    .acquire_many(weight)
                    .await
                    .map_err(|_| StoreError::Closed)?;
                let headers = masked_headers(&request.headers);
                let outcome = self.sender.send(request).await;
                drop(slot);
                (
                    attempt_of(queued, endpoint, &delivery, headers, &outcome),
                    Some(outcome),
                )
            }
            Err(e) => {
                tracing::warn!(endpoint = %endpoint.uid, error = %e, "an endpoint's request cannot be made");
                let mut attempt = unsent_attempt(queued, endpoint, &delivery, requested_at);
                attempt.error = format!("the request could not be made: {e}");
                (attempt, None)
            }
        };
        let next_due_ms = self.settle(&mut delivery, outcome.as_ref(), &attempt);
        // An ordered endpoint's delivery keeps its place in the queue while it waits for
        // its retry (its due time is in the delivery): nothing behind it goes first.
        let next_due_ms = next_due_ms.map(|due| if endpoint.ordered { queued.due_ms } else { due });
        // Only a request that was sent says how the endpoint answers.
        let observed = outcome
            .as_ref()
            .map(|outcome| self.observe(endpoint, project, outcome.is_success()));
        let (health, transition) = observed.unzip();
        let transition = transition.flatten();
        let failed = delivery.status == DeliveryStatus::Failure;
        // What the attempt causes is stored with it: a crash cannot keep the outcome and
        // lose its meta events or the endpoint's disabling.
        let disabled = if failed && project.config.disable_endpoint {
            self.disabled(endpoint)?
        } else {
            None
        };
        let meta_events = {
            let mut meta = Vec::with_capacity(3);
            if let (Some(health), Some(Transition::Opened)) = (&health, transition) {
                meta.push(MetaEvent::CircuitOpened {
                    endpoint,
                    health,
                    error_timeout: project.config.circuit_breaker.error_timeout,
                });
            }
            // A failing meta endpoint must not feed itself.
            if failed && !event.is_meta_event {
                meta.push(MetaEvent::DeliveryFailed(&delivery));
            }
            if let Some(disabled) = &disabled {
                meta.push(MetaEvent::EndpointDisabled(disabled));
            }
            meta.iter().filter_map(|m| m.event(project)).collect()
        };
        self.store
            .record_attempt(AttemptRecord {
                delivery,
                attempt,
                queued: queued.clone(),
                next_due_ms,
                health: health.clone(),
                endpoint: disabled.clone(),
                meta_events,
            })
            .await?;
        if let (Some(health), Some(transition)) = (&health, transition) {
            log_circuit_change(endpoint, project, health, transition);
        }
        if disabled.is_some() {
            tracing::warn!(
                project = %project.uid, endpoint = %endpoint.uid, delivery = %queued.delivery_id,
                "an endpoint was disabled: a delivery failed with no retry left \
                 (config.disable_endpoint); its deliveries are discarded until it is activated"
            );
        }
        Ok(())
    }

    /// The endpoint as stored, made inactive; `None` when it is gone or inactive already.
    fn disabled(&self, endpoint: &Endpoint) -> Result<Option<Endpoint>, StoreError> {
        let Some(mut stored) = self.store.endpoint(&endpoint.project_id, &endpoint.uid)? else {
            return Ok(None);
        };
        if stored.status == EndpointStatus::Inactive {
            return Ok(None);
        }
        stored.status = EndpointStatus::Inactive;
        stored.updated_at = inlet_model::now_rfc3339();
        Ok(Some(stored))
    }

    /// Counts an attempt's outcome against its endpoint's circuit: the endpoint's health
    /// after it, and the change of its circuit.
    fn observe(
        &self,
        endpoint: &Endpoint,
        project: &Project,
        succeeded: bool,
    ) -> (EndpointHealth, Option<Transition>) {
        let mut state = lock(&self.in_flight);
        let gate = self.gate(&mut state.gates, endpoint);
        let now_ms = to_ms(SystemTime::now());
        let transition = gate.observe(&project.config.circuit_breaker, succeeded, now_ms);
        let health = gate.health.clone();
        self.metrics.endpoint_health(
            &endpoint.uid,
            health.cb_state,
            health.failure_rate().unwrap_or(0.0),
        );
        (health, transition)
    }

    /// The endpoint's gate, made from its stored health on first use.
    fn gate<'a>(&self, gates: &'a mut HashMap<String, Gate>, endpoint: &Endpoint) -> &'a mut Gate {
        gates.entry(endpoint.uid.clone()).or_insert_with(|| {
            let health = self
                .store
                .endpoint_health(&endpoint.project_id, &endpoint.uid)
                .unwrap_or_else(|e| {
                    tracing::warn!(endpoint = %endpoint.uid, error = %e, "reading an endpoint's health failed; starting afresh");
                    None
                });
            Gate::new(health.unwrap_or_default())
        })
    }

    fn forget_endpoint(&self, endpoint_id: &str) {
        if lock(&self.in_flight).gates.remove(endpoint_id).is_some() {
            self.metrics.forget_endpoint(endpoint_id);
        }
    }

    /// The delivery after an attempt: its state, and when the next attempt is due.
    fn settle(
        &self,
        delivery: &mut Delivery,
        outcome: Option<&Outcome>,
        attempt: &Attempt,
    ) -> Option<u64> {
        let now = SystemTime::now();
        delivery.metadata.num_trials += 1;
        delivery.updated_at = rfc3339(now.into());
        if let Some(outcome) = outcome {
            delivery.latency_seconds = outcome.latency.as_secs_f64();
            self.metrics
                .delivery_attempt_seconds
                .observe(outcome.latency.as_secs_f64());
        }
        if outcome.is_some_and(Outcome::is_success) {
            self.metrics.delivery("success");
            delivery.status = DeliveryStatus::Success;
            delivery.acknowledged_at = Some(delivery.updated_at.clone());
            delivery.metadata.next_send_time = None;
            delivery.description.clear();
            return None;
        }
        delivery.description = match outcome.and_then(|o| o.status) {
            Some(status) => format!("Endpoint returned status code {}", status.as_u16()),
            None => attempt.error.clone(),
        };
        let asked = outcome.and_then(|o| {
            o.status
                .and_then(|status| retry_after(status, o.response_headers.get(RETRY_AFTER), now))
        });
        let failed = u32::try_from(delivery.metadata.num_trials).unwrap_or(u32::MAX);
        match delivery
            .metadata
            .strategy()
            .next_retry(failed, asked, Jitter::random())
        {
            Some(wait) => {
                self.metrics.delivery("retry");
                let due = now + wait;
                delivery.status = DeliveryStatus::Retry;
                delivery.metadata.next_send_time = Some(rfc3339(due.into()));
                Some(to_ms(due))
            }
            None => {
                self.metrics.delivery("failure");
                delivery.status = DeliveryStatus::Failure;
                delivery.metadata.next_send_time = None;
                None
            }
        }
    }

    /// Ends a queued delivery as `Discarded`, saying why (or just dequeues it when it is
    /// gone with its project).
    async fn discard(&self, queued: &Queued, why: &str) -> Result<(), StoreError> {
        let Some(mut delivery) = self
            .store
            .delivery(&queued.project_id, &queued.delivery_id)?
        else {
            return self.store.dequeue(queued, None).await;
        };
        self.metrics.delivery("discarded");
        delivery.status = DeliveryStatus::Discarded;
        delivery.description = why.to_string();
        delivery.metadata.next_send_time = None;
        delivery.updated_at = rfc3339(SystemTime::now().into());
        self.store.dequeue(queued, Some(&delivery)).await
    }

    /// Drops what was read at an older routing version.
    fn refresh_config(&self) {
        let version = self.store.routing_version();
        let mut config = lock(&self.config);
        if config.version != Some(version) {
            *config = Config {
                version: Some(version),
                ..Config::default()
            };
        }
    }

    /// The endpoint, `None` when it is gone. A read error is an error, never "gone": a
    /// delivery is discarded only for an endpoint that really was deleted.
    fn endpoint(
        &self,
        project_id: &str,
        endpoint_id: &str,
    ) -> Result<Option<Arc<Endpoint>>, StoreError> {
        let key = (project_id.to_string(), endpoint_id.to_string());
        let mut config = lock(&self.config);
        if let Some(known) = config.endpoints.get(&key) {
            return Ok(known.clone());
        }
        let found = self.store.endpoint(project_id, endpoint_id)?.map(Arc::new);
        config.endpoints.insert(key, found.clone());
        Ok(found)
    }

    fn project(&self, project_id: &str) -> Result<Option<Arc<Project>>, StoreError> {
        let mut config = lock(&self.config);
        if let Some(known) = config.projects.get(project_id) {
            return Ok(known.clone());
        }
        let found = self.store.project(project_id)?.map(Arc::new);
        config
            .projects
            .insert(project_id.to_string(), found.clone());
        Ok(found)
    }
}

/// Logs a circuit's change, once: after the attempt that changed it is stored.
fn log_circuit_change(
    endpoint: &Endpoint,
    project: &Project,
    health: &EndpointHealth,
    transition: Transition,
) {
    match transition {
        Transition::Opened => tracing::warn!(
            project = %project.uid, endpoint = %endpoint.uid,
            consecutive_failures = health.consecutive_failures,
            error_timeout = project.config.circuit_breaker.error_timeout,
            "an endpoint's circuit opened: its deliveries wait, then one probe is sent"
        ),
        Transition::Reopened => {
            tracing::debug!(endpoint = %endpoint.uid, "an endpoint's probe failed; its circuit stays open")
        }
        Transition::Closed => {
            tracing::info!(project = %project.uid, endpoint = %endpoint.uid, "an endpoint's circuit closed: its deliveries go out again")
        }
    }
}

/// One of an endpoint's [`PER_ENDPOINT`] slots, taken when a delivery is handed out and
/// given back when the endpoint has answered (or no request is made): it bounds the
/// requests to an endpoint, not the writes of their outcomes.
struct EndpointSlot<'a> {
    dispatcher: &'a Dispatcher,
    endpoint_id: &'a str,
}

impl Drop for EndpointSlot<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.dispatcher.in_flight);
        if let Some(busy) = state.per_endpoint.get_mut(self.endpoint_id) {
            *busy -= 1;
            if *busy == 0 {
                state.per_endpoint.remove(self.endpoint_id);
            }
        }
    }
}

/// The attempt as recorded: what was sent (secrets masked) and what came back.
fn attempt_of(
    queued: &Queued,
    endpoint: &Endpoint,
    delivery: &Delivery,
    request_headers: BTreeMap<String, String>,
    outcome: &Outcome,
) -> Attempt {
    Attempt {
        ip_address: outcome
            .remote_addr
            .map(|addr| addr.ip().to_string())
            .unwrap_or_default(),
        request_http_header: request_headers,
        response_http_header: masked_headers(&outcome.response_headers),
        http_status: outcome
            .status
            .map(|s| {
                format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
                    .trim_end()
                    .to_string()
            })
            .unwrap_or_default(),
        response_data: String::from_utf8_lossy(&outcome.response_body).into_owned(),
        error: outcome.error.clone().unwrap_or_default(),
        status: outcome.is_success(),
        requested_at: rfc3339(outcome.requested_at.into()),
        responded_at: outcome.responded_at.map(|at| rfc3339(at.into())),
        latency_seconds: outcome.latency.as_secs_f64(),
        ..unsent_attempt(queued, endpoint, delivery, outcome.requested_at)
    }
}

/// An attempt that sent nothing (yet).
fn unsent_attempt(
    queued: &Queued,
    endpoint: &Endpoint,
    delivery: &Delivery,
    requested_at: SystemTime,
) -> Attempt {
    Attempt {
        uid: new_uid(),
        url: target_of(endpoint),
        method: "POST".into(),
        endpoint_id: queued.endpoint_id.clone(),
        project_id: queued.project_id.clone(),
        msg_id: delivery.uid.clone(),
        ip_address: String::new(),
        request_http_header: BTreeMap::new(),
        response_http_header: BTreeMap::new(),
        http_status: String::new(),
        response_data: String::new(),
        error: String::new(),
        status: false,
        requested_at: rfc3339(requested_at.into()),
        responded_at: None,
        latency_seconds: 0.0,
        created_at: String::new(),
    }
}

/// Where an attempt goes, as its `url`: a `kafka` endpoint's brokers and topic.
fn target_of(endpoint: &Endpoint) -> String {
    match &endpoint.kafka {
        Some(kafka) => format!("kafka://{}/{}", kafka.brokers.join(","), kafka.topic_name),
        None => endpoint.url.clone(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn duration_ms(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
}

fn to_ms(at: SystemTime) -> u64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn from_ms(ms: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
}
