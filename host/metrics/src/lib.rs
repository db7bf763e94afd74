//! Prometheus metrics, served at `/metrics` in the text exposition format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SourceLabels {
    /// A source uid, or `rest_api:<project uid>` for the REST API source.
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
    pub method: String,
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

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    pub events_accepted: Family<SourceLabels, Counter>,
    pub events_rejected: Family<RejectLabels, Counter>,
    pub request_seconds: Histograms<RequestLabels>,
    pub store_batch_jobs: Histogram,
    pub store_sync_seconds: Histogram,
    pub plugin_calls: Family<PluginLabels, Counter>,
    pub plugin_seconds: Histograms<PluginLabels>,
    broker_source_state: Family<BrokerStateLabels, Gauge>,
    broker_errors: Family<SourceLabels, Counter>,
    dead_letters: Family<SourceLabels, Counter>,
    broker_redeliveries: Family<SourceLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let events_accepted = Family::default();
        let events_rejected = Family::default();
        let request_seconds: Histograms<RequestLabels> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 14)));
        let store_batch_jobs = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        let store_sync_seconds = Histogram::new(exponential_buckets(0.0001, 2.0, 14));
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
        Self {
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
        }
    }
}

impl Metrics {
    pub fn accepted(&self, source: &str, events: u64) {
        self.events_accepted
            .get_or_create(&source_labels(source))
            .inc_by(events);
    }

    pub fn rejected(&self, source: &str, reason: &str) {
        self.events_rejected
            .get_or_create(&RejectLabels {
                source: source.to_string(),
                reason: reason.to_string(),
            })
            .inc();
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
