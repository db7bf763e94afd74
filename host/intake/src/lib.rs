//! Event intake over HTTP: a source's public URL (`/ingest/{mask_id}`, [`ingest`]) and the
//! REST API source of an outgoing project ([`rest`]). Both verify, build an
//! [`Event`](inlet_model::Event), hand it to the store, and answer only once the store has it
//! on disk.

mod ingest;
mod rest;
mod sources;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::post;
use inlet_auth::Auth;
use inlet_metrics::Metrics;
use inlet_plugin_host::PluginHost;
use inlet_store::Store;
use inlet_web::BodyBudget;

use sources::LiveSources;

/// What intake needs: where events go, who may send them, how much they may weigh.
pub struct Intake {
    store: Arc<Store>,
    auth: Arc<Auth>,
    plugins: Arc<PluginHost>,
    metrics: Arc<Metrics>,
    /// `--public-url` without a trailing `/`: what a provider calls, for plugins that sign it.
    public_url: String,
    /// Largest request body accepted (a source may lower it).
    max_body_bytes: u64,
    /// Time a client may take to send a body.
    body_timeout: Duration,
    /// Bytes of bodies held at once, by both routes.
    body_budget: BodyBudget,
    sources: LiveSources,
}

/// How much intake takes: bounds set by the operator's flags.
pub struct IntakeLimits {
    /// Largest request body accepted (a source may lower it).
    pub max_body_bytes: u64,
    /// Time a client may take to send a body.
    pub body_timeout: Duration,
    /// Bytes of bodies held at once, by both routes.
    pub max_inflight_body_bytes: u64,
}

impl Intake {
    pub fn new(
        store: Arc<Store>,
        auth: Arc<Auth>,
        plugins: Arc<PluginHost>,
        metrics: Arc<Metrics>,
        public_url: &str,
        limits: IntakeLimits,
    ) -> Self {
        Self {
            store,
            auth,
            plugins,
            metrics,
            public_url: public_url.trim_end_matches('/').to_string(),
            max_body_bytes: limits.max_body_bytes,
            body_timeout: limits.body_timeout,
            body_budget: BodyBudget::new(limits.max_inflight_body_bytes),
            sources: LiveSources::default(),
        }
    }
}

/// `POST|GET /ingest/{mask_id}` and `POST /api/v1/projects/{project_id}/events`
/// (`/fanout`, `/broadcast`).
pub fn router(intake: Arc<Intake>) -> Router {
    Router::new()
        .route(
            "/ingest/{mask_id}",
            post(ingest::ingest).get(ingest::ingest),
        )
        .route(
            "/api/v1/projects/{project_id}/events",
            post(rest::create_event),
        )
        .route(
            "/api/v1/projects/{project_id}/events/fanout",
            post(rest::fanout),
        )
        .route(
            "/api/v1/projects/{project_id}/events/broadcast",
            post(rest::broadcast),
        )
        .with_state(intake)
}
