//! The admin API: projects and their API keys (admin token), sources (admin token or the
//! project's API key), reading events and dead letters, and the loaded plugins. Event
//! intake is `inlet-intake`'s; this crate only configures and reads.

mod events;
mod projects;
mod sources;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post, put};
use http::StatusCode;
use inlet_auth::{Auth, Caller};
use inlet_brokers::Brokers;
use inlet_metrics::Metrics;
use inlet_plugin_host::PluginHost;
use inlet_store::{Store, StoreError};
use inlet_web::{ApiError, ListPage, json_body, ok};

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
    /// Base of every source's public ingest URL.
    public_url: String,
    body_timeout: Duration,
}

impl Admin {
    pub fn new(
        store: Arc<Store>,
        auth: Arc<Auth>,
        plugins: Arc<PluginHost>,
        brokers: Arc<Brokers>,
        metrics: Arc<Metrics>,
        public_url: String,
        body_timeout: Duration,
    ) -> Self {
        Self {
            store,
            auth,
            plugins,
            brokers,
            metrics,
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
            "/api/v1/projects/{project_id}/dead-letters",
            get(events::dead_letters),
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
