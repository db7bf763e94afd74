//! Reading deliveries (`GET /api/v1/projects/{project_id}/eventdeliveries[/{delivery_id}]`)
//! and their attempts, in Convoy's JSON; and sending them again (`resend`, `forceresend`,
//! `batchretry`), which requeues final deliveries without making new ones. Deliveries are
//! made by the store with each event and changed by the delivery worker.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_model::delivery::{Delivery, DeliveryStatus, Endpoint};
use inlet_store::{DeliveryQuery, JobWork};
use inlet_web::{ApiError, ApiPath, ListPage, ok};
use serde::{Deserialize, Serialize};

use crate::events::parse_listing;
use crate::jobs::refusal;
use crate::{Admin, field};

/// Most ids one `forceresend` takes.
const MAX_FORCE_RESEND: usize = 1000;

/// Newest first, paged as events are; filters `endpointId` and `status` (each repeatable:
/// any of them), `eventId`, `subscriptionId`, `eventType`, and the time range.
pub async fn list(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let query = parse_query(query.as_deref().unwrap_or(""))?;
    let per_page = query.range.per_page;
    let page = state
        .scan(move |store| store.list_deliveries(&project.uid, &query))
        .await?;
    Ok(ok(
        StatusCode::OK,
        "Event deliveries fetched successfully",
        ListPage::of(page, per_page),
    ))
}

/// A delivery with its endpoint (null once deleted) and which event it carries.
pub async fn get(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, delivery_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let delivery = authorized(&state, &headers, &project_id, &delivery_id)?;
    let (event_id, endpoint_id) = (delivery.event_id.clone(), delivery.endpoint_id.clone());
    let (event, endpoint) = state
        .scan(move |store| {
            Ok((
                store.event(&project_id, &event_id)?,
                store.endpoint(&project_id, &endpoint_id)?,
            ))
        })
        .await?;
    let view = DeliveryView {
        event_metadata: event.map(|e| EventMetadata {
            uid: e.uid,
            event_type: e.event_type,
        }),
        endpoint_metadata: endpoint,
        delivery,
    };
    Ok(ok(
        StatusCode::OK,
        "Event delivery fetched successfully",
        view,
    ))
}

/// Every attempt of a delivery, oldest first: as Convoy, a plain array, not a page.
pub async fn attempts(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, delivery_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorized(&state, &headers, &project_id, &delivery_id)?;
    let attempts = state
        .scan(move |store| store.attempts(&project_id, &delivery_id))
        .await?;
    Ok(ok(
        StatusCode::OK,
        "Event delivery attempts fetched successfully",
        attempts,
    ))
}

pub async fn attempt(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, delivery_id, attempt_id)): ApiPath<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorized(&state, &headers, &project_id, &delivery_id)?;
    let attempts = state
        .scan(move |store| store.attempts(&project_id, &delivery_id))
        .await?;
    let attempt = attempts
        .into_iter()
        .find(|a| a.uid == attempt_id)
        .ok_or_else(|| ApiError::not_found("delivery attempt"))?;
    Ok(ok(
        StatusCode::OK,
        "Event delivery attempt fetched successfully",
        attempt,
    ))
}

/// `PUT …/eventdeliveries/{id}/resend`: a final delivery (`Failure`, `Discarded`) queued
/// for one more attempt now. A `Success` is refused (409 `already_delivered`: force it with
/// `forceresend`), and so is one still queued (409 `already_queued`).
pub async fn resend(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, delivery_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::projects::authorized(&state, &headers, &project_id)?;
    let ids = vec![delivery_id.clone()];
    let project = project_id.clone();
    let mut outcomes = state
        .scan(move |store| store.requeue(&project, &ids, false))
        .await?;
    match outcomes.pop() {
        Some((_, Ok(delivery))) => Ok(ok(
            StatusCode::OK,
            "App event processed for retry successfully",
            delivery,
        )),
        Some((_, Err(why))) => Err(refusal(&project_id, &delivery_id, why)),
        None => Err(ApiError::not_found("event delivery")),
    }
}

#[derive(Deserialize)]
struct ForceResend {
    ids: Vec<String>,
}

/// `POST …/eventdeliveries/forceresend {"ids": […]}`: each final delivery requeued, a
/// `Success` too (asked explicitly), in one write. As Convoy, the message counts them:
/// "N successful, M failed"; `data` says which, and why each failed one was not.
pub async fn force_resend(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    super::projects::authorized(&state, &headers, &project_id)?;
    let ForceResend { ids } = state.body(&headers, body).await?;
    if ids.is_empty() {
        return Err(field("ids", "at least one delivery id"));
    }
    if ids.len() > MAX_FORCE_RESEND {
        return Err(field(
            "ids",
            format!("at most {MAX_FORCE_RESEND} ids at once; use batchretry for more"),
        ));
    }
    let project = project_id.clone();
    let outcomes = state
        .scan(move |store| store.requeue(&project, &ids, true))
        .await?;
    let mut report = ForceResendReport::default();
    for (uid, outcome) in outcomes {
        match outcome {
            Ok(_) => report.successful.push(uid),
            Err(why) => {
                let refused = refusal(&project_id, &uid, why);
                report.failed.push(Failed {
                    uid,
                    code: refused.code,
                    message: refused.message,
                });
            }
        }
    }
    let message = format!(
        "{} successful, {} failed",
        report.successful.len(),
        report.failed.len()
    );
    Ok(ok(StatusCode::OK, &message, report))
}

#[derive(Default, Serialize)]
struct ForceResendReport {
    successful: Vec<String>,
    failed: Vec<Failed>,
}

#[derive(Serialize)]
struct Failed {
    uid: String,
    code: &'static str,
    message: String,
}

/// `POST …/eventdeliveries/batchretry` with the listing's filters: 202 with a job that
/// requeues every final delivery they match, page by page (`GET …/jobs/{job_id}`).
/// `Success` deliveries are requeued only when the filter names `status=Success`.
pub async fn batch_retry(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let filter = parse_query(query.as_deref().unwrap_or(""))?;
    let force = filter.statuses.contains(&DeliveryStatus::Success);
    let work = JobWork::BatchRetry {
        filter,
        force,
        requeued: 0,
    };
    crate::jobs::start(&state, &project.uid, work, "Batch retry processing").await
}

/// `GET …/eventdeliveries/countbatchretryevents`: `{"num": n}`, the deliveries the filters
/// match (what a `batchretry` with them goes over).
pub async fn count_batch_retry(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let filter = parse_query(query.as_deref().unwrap_or(""))?;
    let num = state
        .scan(move |store| store.count_deliveries(&project.uid, &filter))
        .await?;
    Ok(ok(
        StatusCode::OK,
        "event deliveries count successful",
        Count { num },
    ))
}

#[derive(Serialize)]
pub(crate) struct Count {
    pub(crate) num: u64,
}

/// The delivery, for the admin or the holder of its project's API key.
fn authorized(
    state: &Admin,
    headers: &HeaderMap,
    project_id: &str,
    delivery_id: &str,
) -> Result<Delivery, ApiError> {
    state
        .auth
        .require_project(&state.store, headers, project_id)?;
    state
        .store
        .delivery(project_id, delivery_id)?
        .ok_or_else(|| ApiError::not_found("event delivery"))
}

#[derive(Serialize)]
struct DeliveryView {
    #[serde(flatten)]
    delivery: Delivery,
    endpoint_metadata: Option<Endpoint>,
    event_metadata: Option<EventMetadata>,
}

/// What Convoy shows of a delivery's event; the event itself is at `…/events/{event_id}`.
#[derive(Serialize)]
struct EventMetadata {
    uid: String,
    event_type: String,
}

/// Convoy's filter names, with the paging and time range of every listing.
fn parse_query(query: &str) -> Result<DeliveryQuery, ApiError> {
    let mut q = DeliveryQuery::default();
    let present = |value: String| Some(value).filter(|v| !v.is_empty());
    q.range = parse_listing(query, |_, name, value| {
        match name {
            "endpointId" => q.endpoint_ids.extend(present(value)),
            "eventId" => q.event_id = present(value),
            "subscriptionId" => q.subscription_id = present(value),
            "eventType" => q.event_type = present(value),
            "status" if !value.is_empty() => {
                let status = DeliveryStatus::parse(&value).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_query",
                        format!(
                            "status: {value:?} is not a delivery status; one of {}",
                            DeliveryStatus::ALL.map(|s| format!("{s:?}")).join(", ")
                        ),
                    )
                })?;
                q.statuses.push(status);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(q)
}
