//! Prometheus metrics, served at `/metrics` in the text exposition format.
//!
//! Every label value comes from a bounded set that no stranger can grow or forge: route
//! templates, [`method_label`]'s fixed methods, reason codes, plugin names, and uids of
//! sources and projects that exist ([`OTHER`] for anything else). A deleted source's series
//! are removed ([`Metrics::forget_source`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use inlet_model::delivery::CircuitState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The label of what is not in a bounded set: an unknown source, an unknown method.
pub const OTHER: &str = "other";

/// A request method as a label: one of the methods Inlet serves, else [`OTHER`].
pub fn method_label(method: &http::Method) -> &'static str {
    const KNOWN: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"];
    KNOWN
        .into_iter()
        .find(|known| *known == method.as_str())
        .unwrap_or(OTHER)
}

/// The source label of a project's REST API source.
pub fn rest_api_source(project_uid: &str) -> String {
    format!("rest_api:{project_uid}")
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// A source uid, or `rest_api:<project uid>` for the REST API source, of a source or
    /// project that exists; [`OTHER`] for requests to none.
    pub source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    pub source: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template (`/ingest/{mask_id}`), never the concrete path.
    pub route: String,
    /// [`method_label`].
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub plugin: String,
    /// `accept`, `reject`, `respond`, or the failure code (`plugin_timeout`, …).
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BrokerStateLabels {
    pub source: String,
    /// `starting`, `running`, `retrying` or `stopped`.
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    /// `success`, `retry` (failed, another attempt scheduled), `failure` (failed, none
    /// left) or `discarded`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// The uid of an endpoint that exists.
    pub endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CircuitLabels {
    pub endpoint: String,
    /// `closed`, `open` or `half-open`.
    pub state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetentionLabels {
    /// `events`, `dead_letters`, `deliveries` or `attempts`.
    pub kind: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub events_accepted: Family<SourceLabels, Counter>,
    pub events_rejected: Family<RejectLabels, Counter>,
    pub request_seconds: Histograms<RequestLabels>,
    pub store_batch_jobs: Histogram,
    pub store_sync_seconds: Histogram,
    /// 1 while the store takes writes, 0 while they fail (a full disk).
    store_writable: Gauge,
    pub plugin_calls: Family<PluginLabels, Counter>,
    pub plugin_seconds: Histograms<PluginLabels>,
    broker_source_state: Family<BrokerStateLabels, Gauge>,
    broker_errors: Family<SourceLabels, Counter>,
    dead_letters: Family<SourceLabels, Counter>,
    broker_redeliveries: Family<SourceLabels, Counter>,
    delivery_outcomes: Family<DeliveryLabels, Counter>,
    pub delivery_attempt_seconds: Histogram,
    pub deliveries_in_flight: Gauge,
    /// Age of the oldest delivery that is due and not being attempted, in seconds.
    pub delivery_oldest_overdue_seconds: Gauge,
    /// When the delivery worker last went over the queue (Unix seconds).
    pub delivery_worker_last_pass: Gauge,
    endpoint_circuit: Family<CircuitLabels, Gauge>,
    endpoint_failure_rate: Family<EndpointLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    retention_removed: Family<RetentionLabels, Counter>,
    /// The reasons each source has a rejection series for, so that they can be removed.
    rejection_reasons: Mutex<HashMap<String, BTreeSet<&'static str>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let events_accepted = Family::default();
        let events_rejected = Family::default();
        let request_seconds: Histograms<RequestLabels> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 14)));
        let store_batch_jobs = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        let store_sync_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 14));
        let store_writable = Gauge::default();
        store_writable.set(1);
        let plugin_calls = Family::default();
        let plugin_seconds: Histograms<PluginLabels> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.00002, 2.0, 14)));

        let mut registry = Registry::with_prefix("inlet");
        registry.register(
            "events_accepted",
            "Events stored and acknowledged, by source",
            events_accepted.clone(),
        );
        registry.register(
            "events_rejected",
            "Requests refused before storing, by source and reason",
            events_rejected.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency, by route, method and status",
            request_seconds.clone(),
        );
        registry.register(
            "store_batch_jobs",
            "Writes folded into one group-commit batch",
            store_batch_jobs.clone(),
        );
        registry.register(
            "store_sync_duration_seconds",
            "Time to write and sync one group-commit batch",
            store_sync_seconds.clone(),
        );
        registry.register(
            "store_writable",
            "1 while the store takes writes, 0 while they fail (see /readyz for why)",
            store_writable.clone(),
        );
        registry.register(
            "plugin_calls",
            "Provider plugin calls, by plugin and outcome",
            plugin_calls.clone(),
        );
        registry.register(
            "plugin_call_duration_seconds",
            "Provider plugin call latency, instantiation included",
            plugin_seconds.clone(),
        );
        let broker_source_state = Family::default();
        let broker_errors = Family::default();
        let dead_letters = Family::default();
        let broker_redeliveries = Family::default();
        registry.register(
            "broker_source_state",
            "1 for the state each pub_sub source is in, 0 for the others",
            broker_source_state.clone(),
        );
        registry.register(
            "broker_source_errors",
            "Errors reported by a pub_sub source's broker client (it retries)",
            broker_errors.clone(),
        );
        registry.register(
            "dead_letters",
            "Broker messages stored as dead letters, by source",
            dead_letters.clone(),
        );
        registry.register(
            "broker_redeliveries",
            "Broker messages delivered again and recognised by their receipt or offset, by source",
            broker_redeliveries.clone(),
        );
        let delivery_outcomes = Family::default();
        let delivery_attempt_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        let deliveries_in_flight = Gauge::default();
        let delivery_oldest_overdue_seconds = Gauge::default();
        let delivery_worker_last_pass = Gauge::default();
        registry.register(
            "deliveries",
            "Delivery attempts and discarded deliveries, by outcome",
            delivery_outcomes.clone(),
        );
        registry.register(
            "delivery_attempt_duration_seconds",
            "Time from sending a delivery's request to its answer (or error)",
            delivery_attempt_seconds.clone(),
        );
        registry.register(
            "deliveries_in_flight",
            "Delivery attempts being made",
            deliveries_in_flight.clone(),
        );
        registry.register(
            "delivery_oldest_overdue_seconds",
            "Age of the oldest delivery that is due and not being attempted (0: none)",
            delivery_oldest_overdue_seconds.clone(),
        );
        registry.register(
            "delivery_worker_last_pass_timestamp_seconds",
            "When the delivery worker last went over the queue",
            delivery_worker_last_pass.clone(),
        );
        let endpoint_circuit = Family::default();
        let endpoint_failure_rate = Family::default();
        registry.register(
            "endpoint_circuit_state",
            "1 for the state each endpoint's circuit is in (closed, open, half-open), 0 for the others",
            endpoint_circuit.clone(),
        );
        registry.register(
            "endpoint_failure_rate",
            "Failed attempts per attempt of each endpoint in its project's observability window",
            endpoint_failure_rate.clone(),
        );
        let retention_removed = Family::default();
        registry.register(
            "retention_removed",
            "Records removed because their project's retention policy expired them, by kind",
            retention_removed.clone(),
        );
        Self {
            endpoint_circuit,
            endpoint_failure_rate,
            retention_removed,
            delivery_outcomes,
            delivery_attempt_seconds,
            deliveries_in_flight,
            delivery_oldest_overdue_seconds,
            delivery_worker_last_pass,
            rejection_reasons: Mutex::default(),
            registry,
            broker_source_state,
            broker_errors,
            dead_letters,
            broker_redeliveries,
            plugin_calls,
            plugin_seconds,
            events_accepted,
            events_rejected,
            request_seconds,
            store_batch_jobs,
            store_sync_seconds,
            store_writable,
        }
    }
}

impl Metrics {
    /// Whether the store takes writes (`inlet_store_writable`).
    pub fn store_writable(&self, writable: bool) {
        self.store_writable.set(i64::from(writable));
    }

    /// Counts a delivery attempt's outcome (`DeliveryLabels::outcome`).
    pub fn delivery(&self, outcome: &'static str) {
        self.delivery_outcomes
            .get_or_create(&DeliveryLabels { outcome })
            .inc();
    }

    /// An endpoint's circuit state and failure rate.
    pub fn endpoint_health(&self, endpoint: &str, state: CircuitState, failure_rate: f64) {
        for known in CircuitState::ALL {
            let labels = CircuitLabels {
                endpoint: endpoint.to_string(),
                state: known.label(),
            };
            self.endpoint_circuit
                .get_or_create(&labels)
                .set(i64::from(known == state));
        }
        self.endpoint_failure_rate
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_string(),
            })
            .set(failure_rate);
    }

    /// Removes the series of a deleted endpoint.
    pub fn forget_endpoint(&self, endpoint: &str) {
        for state in CircuitState::ALL {
            self.endpoint_circuit.remove(&CircuitLabels {
                endpoint: endpoint.to_string(),
                state: state.label(),
            });
        }
        self.endpoint_failure_rate.remove(&EndpointLabels {
            endpoint: endpoint.to_string(),
        });
    }

    /// Counts records removed by retention (`RetentionLabels::kind`).
    pub fn retention_removed(&self, kind: &'static str, records: u64) {
        self.retention_removed
            .get_or_create(&RetentionLabels { kind })
            .inc_by(records);
    }

    pub fn accepted(&self, source: &str, events: u64) {
        self.events_accepted
            .get_or_create(&source_labels(source))
            .inc_by(events);
    }

    pub fn rejected(&self, source: &str, reason: &'static str) {
        self.events_rejected
            .get_or_create(&RejectLabels {
                source: source.to_string(),
                reason: reason.to_string(),
            })
            .inc();
        let mut reasons = self
            .rejection_reasons
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        reasons
            .entry(source.to_string())
            .or_default()
            .insert(reason);
    }

    /// Removes every series of a source (a source uid or `rest_api:<project uid>`) that is
    /// gone, so that churn does not grow `/metrics`.
    pub fn forget_source(&self, source: &str) {
        let labels = source_labels(source);
        self.events_accepted.remove(&labels);
        self.broker_errors.remove(&labels);
        self.dead_letters.remove(&labels);
        self.broker_redeliveries.remove(&labels);
        let reasons = self
            .rejection_reasons
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(source);
        for reason in reasons.into_iter().flatten() {
            self.events_rejected.remove(&RejectLabels {
                source: source.to_string(),
                reason: reason.to_string(),
            });
        }
    }

    pub fn plugin_call(&self, plugin: &str, outcome: &str, seconds: f64) {
        let labels = PluginLabels {
            plugin: plugin.to_string(),
            outcome: outcome.to_string(),
        };
        self.plugin_calls.get_or_create(&labels).inc();
        self.plugin_seconds.get_or_create(&labels).observe(seconds);
    }

    /// Sets a source's state gauge: 1 for `state`, 0 for the other `states`.
    pub fn broker_state(&self, source: &str, state: &str, states: &[&str]) {
        for name in states {
            let labels = BrokerStateLabels {
                source: source.to_string(),
                state: name.to_string(),
            };
            self.broker_source_state
                .get_or_create(&labels)
                .set(i64::from(*name == state));
        }
    }

    /// Drops a stopped source's state gauges.
    pub fn forget_broker_source(&self, source: &str, states: &[&str]) {
        for name in states {
            self.broker_source_state.remove(&BrokerStateLabels {
                source: source.to_string(),
                state: name.to_string(),
            });
        }
    }

    pub fn broker_error(&self, source: &str) {
        self.broker_errors
            .get_or_create(&source_labels(source))
            .inc();
    }

    pub fn dead_letter(&self, source: &str, letters: u64) {
        self.dead_letters
            .get_or_create(&source_labels(source))
            .inc_by(letters);
    }

    pub fn redelivered(&self, source: &str, messages: u64) {
        self.broker_redeliveries
            .get_or_create(&source_labels(source))
            .inc_by(messages);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

fn source_labels(source: &str) -> SourceLabels {
    SourceLabels {
        source: source.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_outside_the_known_set_are_other() {
        assert_eq!(method_label(&http::Method::POST), "POST");
        let forged = http::Method::from_bytes(b"X\"}").unwrap_or(http::Method::CONNECT);
        assert_eq!(method_label(&forged), OTHER);
        assert_eq!(method_label(&http::Method::CONNECT), OTHER);
    }

    #[test]
    fn a_forgotten_source_leaves_no_series() {
        let metrics = Metrics::default();
        metrics.accepted("s1", 3);
        metrics.rejected("s1", "invalid_signature");
        metrics.rejected("s1", "payload_too_large");
        metrics.dead_letter("s1", 1);
        metrics.accepted("s2", 1);
        assert!(metrics.encode().contains("source=\"s1\""));
        metrics.forget_source("s1");
        let text = metrics.encode();
        assert!(!text.contains("s1"), "{text}");
        assert!(text.contains("source=\"s2\""), "{text}");
    }
}
