//! The admin API: projects and their API keys (admin token); sources, endpoints and
//! subscriptions (admin token or the project's API key); reading events, dead letters,
//! deliveries and their attempts; sending deliveries again (resend, replay, batch jobs: run
//! by `inlet_dispatch::jobs`); and the loaded plugins. Event intake is `inlet-intake`'s
//! and sending `inlet-dispatch`'s; this crate configures, reads, and queues again.

mod deliveries;
mod endpoints;
mod events;
mod jobs;
mod projects;
mod sources;
mod subscriptions;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post, put};
use http::StatusCode;
use inlet_auth::{Auth, Caller};
use inlet_brokers::Brokers;
use inlet_delivery::connect::Policy;
use inlet_metrics::Metrics;
use inlet_model::{FieldError, Invalid, parse_go_duration};
use inlet_plugin_host::PluginHost;
use inlet_store::{Store, StoreError};
use inlet_web::{ApiError, ListPage, json_body, ok};
use serde::{Deserialize, Deserializer};

/// Bodies of admin requests are small; anything larger is refused early.
const ADMIN_BODY_LIMIT: u64 = 1024 * 1024;

/// What the admin API works on.
pub struct Admin {
    store: Arc<Store>,
    auth: Arc<Auth>,
    plugins: Arc<PluginHost>,
    /// The consumers of `pub_sub` sources, started, restarted and stopped as sources change.
    brokers: Arc<Brokers>,
    /// Where a deleted source's series are removed.
    metrics: Arc<Metrics>,
    /// Where endpoints may point: the same policy the delivery worker connects under.
    policy: Arc<Policy>,
    /// Base of every source's public ingest URL.
    public_url: String,
    body_timeout: Duration,
}

impl Admin {
    #[expect(
        clippy::too_many_arguments,
        reason = "one handle per service the admin API works with, wired once by host/inlet"
    )]
    pub fn new(
        store: Arc<Store>,
        auth: Arc<Auth>,
        plugins: Arc<PluginHost>,
        brokers: Arc<Brokers>,
        metrics: Arc<Metrics>,
        policy: Arc<Policy>,
        public_url: String,
        body_timeout: Duration,
    ) -> Self {
        Self {
            store,
            auth,
            plugins,
            brokers,
            metrics,
            policy,
            public_url,
            body_timeout,
        }
    }

    /// An admin request's JSON body, within the admin size limit and the body timeout.
    async fn body<T: serde::de::DeserializeOwned>(
        &self,
        headers: &http::HeaderMap,
        body: axum::body::Body,
    ) -> Result<T, ApiError> {
        json_body(headers, body, ADMIN_BODY_LIMIT, self.body_timeout).await
    }

    /// Runs a store read that iterates (a listing, a scan) on a blocking thread: it may
    /// read megabytes, and an async worker busy that long would hold up every request
    /// queued on it, ingest included.
    async fn scan<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Store) -> inlet_store::Result<T> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || read(&store)).await {
            Ok(result) => Ok(result?),
            // A panic stays one, answered as a JSON 500 like any handler's.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Cancelled: the runtime is shutting down.
            Err(_) => Err(StoreError::Closed.into()),
        }
    }
}

pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route(
            "/api/v1/projects",
            post(projects::create).get(projects::list),
        )
        .route(
            "/api/v1/projects/{project_id}",
            get(projects::get)
                .put(projects::update)
                .delete(projects::delete),
        )
        .route(
            "/api/v1/projects/{project_id}/security/keys/regenerate",
            put(projects::regenerate_key),
        )
        .route(
            "/api/v1/projects/{project_id}/sources",
            post(sources::create).get(sources::list),
        )
        .route(
            "/api/v1/projects/{project_id}/sources/{source_id}",
            get(sources::get)
                .put(sources::update)
                .delete(sources::delete),
        )
        .route("/api/v1/projects/{project_id}/events", get(events::list))
        .route(
            "/api/v1/projects/{project_id}/events/{event_id}",
            get(events::get),
        )
        .route(
            "/api/v1/projects/{project_id}/events/{event_id}/replay",
            put(events::replay),
        )
        .route(
            "/api/v1/projects/{project_id}/events/batchreplay",
            post(events::batch_replay),
        )
        .route(
            "/api/v1/projects/{project_id}/events/countbatchreplayevents",
            get(events::count_batch_replay),
        )
        .route(
            "/api/v1/projects/{project_id}/dead-letters",
            get(events::dead_letters),
        )
        .route(
            "/api/v1/projects/{project_id}/endpoints",
            post(endpoints::create).get(endpoints::list),
        )
        .route(
            "/api/v1/projects/{project_id}/endpoints/{endpoint_id}",
            get(endpoints::get)
                .put(endpoints::update)
                .delete(endpoints::delete),
        )
        .route(
            "/api/v1/projects/{project_id}/endpoints/{endpoint_id}/expire_secret",
            put(endpoints::expire_secret),
        )
        .route(
            "/api/v1/projects/{project_id}/endpoints/{endpoint_id}/pause",
            put(endpoints::pause),
        )
        .route(
            "/api/v1/projects/{project_id}/endpoints/{endpoint_id}/activate",
            post(endpoints::activate),
        )
        .route(
            "/api/v1/projects/{project_id}/subscriptions",
            post(subscriptions::create).get(subscriptions::list),
        )
        .route(
            "/api/v1/projects/{project_id}/subscriptions/test_filter",
            post(subscriptions::test_filter),
        )
        .route(
            "/api/v1/projects/{project_id}/subscriptions/{subscription_id}",
            get(subscriptions::get)
                .put(subscriptions::update)
                .delete(subscriptions::delete),
        )
        .route(
            "/api/v1/projects/{project_id}/eventdeliveries",
            get(deliveries::list),
        )
        .route(
            "/api/v1/projects/{project_id}/eventdeliveries/{delivery_id}",
            get(deliveries::get),
        )
        .route(
            "/api/v1/projects/{project_id}/eventdeliveries/{delivery_id}/resend",
            put(deliveries::resend),
        )
        .route(
            "/api/v1/projects/{project_id}/eventdeliveries/forceresend",
            post(deliveries::force_resend),
        )
        .route(
            "/api/v1/projects/{project_id}/eventdeliveries/batchretry",
            post(deliveries::batch_retry),
        )
        .route(
            "/api/v1/projects/{project_id}/eventdeliveries/countbatchretryevents",
            get(deliveries::count_batch_retry),
        )
        .route("/api/v1/projects/{project_id}/jobs", get(jobs::list))
        .route(
            "/api/v1/projects/{project_id}/jobs/{job_id}",
            get(jobs::get),
        )
        .route(
            "/api/v1/projects/{project_id}/eventdeliveries/{delivery_id}/deliveryattempts",
            get(deliveries::attempts),
        )
        .route(
            "/api/v1/projects/{project_id}/eventdeliveries/{delivery_id}/deliveryattempts/{attempt_id}",
            get(deliveries::attempt),
        )
        .route("/api/v1/plugins", get(plugins))
        .with_state(admin)
}

/// Every loaded provider plugin with its `describe` information. Any valid token; the
/// files plugins were loaded from are shown to the admin only.
async fn plugins(
    State(admin): State<Arc<Admin>>,
    headers: http::HeaderMap,
) -> Result<Response, ApiError> {
    let caller = admin.auth.caller(&admin.store, &headers)?;
    let mut plugins = admin.plugins.list();
    if caller != Caller::Admin {
        plugins.iter_mut().for_each(|plugin| plugin.path = None);
    }
    Ok(ok(
        StatusCode::OK,
        "Plugins fetched successfully",
        ListPage::whole(plugins),
    ))
}

/// A 400 `invalid_field` naming the field at fault.
fn field(name: &str, message: impl Into<String>) -> ApiError {
    invalid(FieldError::new(name, message))
}

/// A refusal of input (a field, a filter, a URL) as its 400.
fn invalid(error: impl Into<Invalid>) -> ApiError {
    error.into().into()
}

/// For a field an update may clear: absent is `None` (unchanged), `null` is `Some(None)`.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Seconds, as a number or, as older Convoy clients send them, a duration string (`"10s"`,
/// `"1m"`, `"1h30m"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seconds(u64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Number(u64),
            Text(String),
        }
        match Form::deserialize(d) {
            Ok(Form::Number(n)) => Ok(Seconds(n)),
            Ok(Form::Text(text)) => parse_go_duration(&text).map(Seconds).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "{text:?}: expected whole seconds, as a number or a duration such as \"10s\", \"1m\" or \"1h30m\""
                ))
            }),
            Err(_) => Err(serde::de::Error::custom(
                "expected whole seconds, as a non-negative number or a duration such as \"10s\"",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_numbers_or_go_durations() {
        let read = |json: &str| serde_json::from_str::<Seconds>(json).map(|s| s.0).ok();
        assert_eq!(read("10"), Some(10));
        assert_eq!(read("\"10s\""), Some(10));
        assert_eq!(read("\"1m\""), Some(60));
        assert_eq!(read("\"1h30m5s\""), Some(5405));
        assert_eq!(read("\"0\""), Some(0));
        for bad in [
            "-1",
            "1.5",
            "\"\"",
            "\"10\"",
            "\"1.5s\"",
            "\"300ms\"",
            "\"s\"",
            "null",
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }
}
