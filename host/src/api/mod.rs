//! The HTTP surface: routes, request metrics and load shedding, the admin API (projects,
//! sources), reading events, and health. Event intake lives in [`crate::intake`].

mod events;
mod projects;
mod sources;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use http::StatusCode;
use serde::Serialize;

use crate::error::ApiError;
use crate::intake;
use crate::metrics::RequestLabels;
use crate::server::AppState;

/// Bodies of admin requests are small; anything larger is refused early.
const ADMIN_BODY_LIMIT: u64 = 1024 * 1024;

/// An admin request's JSON body, within the admin size limit and the body timeout.
async fn admin_body<T: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &http::HeaderMap,
    body: axum::body::Body,
) -> Result<T, ApiError> {
    crate::request::json_body(headers, body, ADMIN_BODY_LIMIT, state.settings.body_timeout).await
}

pub fn router(state: Arc<AppState>) -> Router {
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
        .route(
            "/api/v1/projects/{project_id}/events",
            post(intake::rest::create_event).get(events::list),
        )
        .route(
            "/api/v1/projects/{project_id}/events/{event_id}",
            get(events::get),
        )
        .route(
            "/api/v1/projects/{project_id}/dead-letters",
            get(events::dead_letters),
        )
        .route("/api/v1/plugins", get(plugins))
        .route(
            "/ingest/{mask_id}",
            post(intake::http::ingest).get(intake::http::ingest),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Sheds load beyond the in-flight limit with 429 (health and metrics excepted), and records
/// every request's latency.
async fn observe(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = request.method().to_string();
    // Health and metrics are cheap and must stay reachable when Inlet is saturated.
    let exempt = matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics");
    let response = match state.in_flight.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) if exempt => next.run(request).await,
        Err(_) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Inlet is at its limit of requests in flight; retry shortly",
        )
        .into_response(),
    };
    state
        .metrics
        .request_seconds
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}

/// Every loaded provider plugin with its `describe` information. Any valid token.
async fn plugins(
    State(state): State<Arc<AppState>>,
    headers: http::HeaderMap,
) -> Result<Response, ApiError> {
    state.auth.caller(&state.store, &headers)?;
    Ok(crate::error::ok(
        StatusCode::OK,
        "Plugins fetched successfully",
        ListPage::whole(state.plugins.list()),
    ))
}

async fn healthz() -> Response {
    crate::error::ok(StatusCode::OK, "ok", ())
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    if state.store.is_ready() {
        crate::error::ok(StatusCode::OK, "ready", ())
    } else {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the store is not accepting writes",
        )
        .into_response()
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.encode(),
    )
        .into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this route does not take that method",
    )
}

/// Convoy's list shape: `data.content` and `data.pagination`.
#[derive(Serialize)]
struct ListPage<T: Serialize> {
    content: Vec<T>,
    pagination: Pagination,
}

#[derive(Serialize)]
struct Pagination {
    per_page: usize,
    has_next_page: bool,
    next_page_cursor: String,
}

impl<T: Serialize> ListPage<T> {
    /// A page of a paged listing.
    fn of(page: crate::store::Page<T>, per_page: usize) -> Self {
        Self {
            content: page.items,
            pagination: Pagination {
                per_page,
                has_next_page: page.next_cursor.is_some(),
                next_page_cursor: page.next_cursor.unwrap_or_default(),
            },
        }
    }

    /// A list that is never paged (projects, sources).
    fn whole(content: Vec<T>) -> Self {
        Self {
            pagination: Pagination {
                per_page: content.len(),
                has_next_page: false,
                next_page_cursor: String::new(),
            },
            content,
        }
    }
}
