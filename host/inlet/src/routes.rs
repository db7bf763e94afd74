//! The whole HTTP surface: intake's and the admin API's routes, health and metrics, JSON
//! answers for unknown routes and methods, and around all of it load shedding (429) and
//! request metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use inlet_dispatch::Dispatcher;
use inlet_metrics::{Metrics, RequestLabels, method_label};
use inlet_store::Store;
use inlet_web::{ApiError, ok};
use tokio::sync::Semaphore;
use tower_http::catch_panic::CatchPanicLayer;

/// What the routes outside intake and the admin API need.
pub(crate) struct Surface {
    pub store: Arc<Store>,
    pub dispatcher: Arc<Dispatcher>,
    pub metrics: Arc<Metrics>,
    /// Bounds requests in flight, and so the memory their bodies can take.
    pub in_flight: Semaphore,
}

/// The main listener's routes; `/metrics` among them unless it has a listener of its own
/// (`--metrics-listen`).
pub(crate) fn router(
    surface: Arc<Surface>,
    intake: Router,
    admin: Router,
    with_metrics: bool,
) -> Router {
    let mut operations = probes();
    if with_metrics {
        operations = operations.route("/metrics", get(metrics));
    }
    let routes = operations
        .with_state(surface.clone())
        .merge(intake)
        .merge(admin);
    finish(surface, routes)
}

/// The `--metrics-listen` listener's routes: `/metrics` and the probes.
pub(crate) fn metrics_router(surface: Arc<Surface>) -> Router {
    let routes = probes()
        .route("/metrics", get(metrics))
        .with_state(surface.clone());
    finish(surface, routes)
}

fn probes() -> Router<Arc<Surface>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// JSON answers for unknown routes and methods and for panics, load shedding, metrics.
fn finish(surface: Arc<Surface>, routes: Router) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(CatchPanicLayer::custom(panicked))
        .layer(from_fn_with_state(surface, observe))
}

/// A panic anywhere in a handler answers a JSON 500 with a stable code (and is counted by
/// `observe`), never a dropped connection. What was acknowledged before stays
/// acknowledged: a handler answers only after its write.
fn panicked(_: Box<dyn std::any::Any + Send>) -> Response {
    tracing::error!("a request handler panicked; answered 500 internal_error");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "Inlet failed on this request; retry, and report it if it persists",
    )
    .into_response()
}

/// Sheds load beyond the in-flight limit with 429 (health and metrics excepted), and records
/// every request's latency.
async fn observe(State(surface): State<Arc<Surface>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_string();
    let method = method_label(request.method());
    // Health and metrics are cheap and must stay reachable when Inlet is saturated.
    let exempt = matches!(route.as_str(), "/healthz" | "/readyz" | "/metrics");
    let response = match surface.in_flight.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) if exempt => next.run(request).await,
        Err(_) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Inlet is at its limit of requests in flight; retry shortly",
        )
        .into_response(),
    };
    surface
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

async fn healthz() -> Response {
    ok(StatusCode::OK, "ok", ())
}

async fn readyz(State(surface): State<Arc<Surface>>) -> Response {
    // Unready while writes fail (a full disk), or while deliveries stall or fall behind,
    // saying why; ready again once that has passed.
    let store = surface.store.health();
    let delivery = surface.dispatcher.health();
    let reason = if !store.is_ready() {
        format!("the store is not accepting writes: {store}")
    } else if !delivery.is_ready() {
        delivery.to_string()
    } else {
        return ok(StatusCode::OK, "ready", ());
    };
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_ready", reason).into_response()
}

async fn metrics(State(surface): State<Arc<Surface>>) -> Response {
    (
        [(
            http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        surface.metrics.encode(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_a_json_500() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = Arc::new(Metrics::default());
        let store = Arc::new(Store::open(dir.path(), metrics.clone()).unwrap());
        let policy = Arc::new(inlet_delivery::connect::Policy::default());
        let sender = inlet_delivery::send::Sender::new(policy).unwrap();
        let dispatcher = Dispatcher::new(
            store.clone(),
            sender,
            metrics.clone(),
            std::time::Duration::from_secs(60),
        );
        let surface = Arc::new(Surface {
            store,
            dispatcher,
            metrics: metrics.clone(),
            in_flight: Semaphore::new(4),
        });
        async fn boom() -> Response {
            panic!("a bug")
        }
        let intake = Router::new().route("/boom", get(boom));
        let app = router(surface, intake, Router::new(), true);
        let request = http::Request::get("/boom")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains(r#""code":"internal_error""#), "{body}");
        assert!(
            metrics
                .encode()
                .contains(r#"route="/boom",method="GET",status="500""#)
        );
    }
}
