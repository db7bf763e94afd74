//! Reading deliveries (`GET /api/v1/projects/{project_id}/eventdeliveries[/{delivery_id}]`)
//! and their attempts, in Convoy's JSON. Deliveries are made by the store with each event
//! and changed by the delivery worker; this side only reads them.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_model::delivery::{Delivery, DeliveryStatus, Endpoint};
use inlet_store::DeliveryQuery;
use inlet_web::{ApiError, ApiPath, ListPage, ok};
use serde::Serialize;

use crate::Admin;
use crate::events::parse_listing;

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
