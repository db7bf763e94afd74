//! Prometheus metrics, served at `/metrics` in the text exposition format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
        Self {
            registry,
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
    pub fn accepted(&self, source: &str) {
        self.events_accepted
            .get_or_create(&SourceLabels {
                source: source.to_string(),
            })
            .inc();
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

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
