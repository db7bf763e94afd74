//! Reading events (`GET /api/v1/projects/{project_id}/events[/{event_id}]`) and dead
//! letters, newest first, with Convoy's cursor pagination (shared by every paged listing:
//! [`parse_listing`]). An event read alone says how its deliveries stand. Replaying events
//! (`…/replay`, `…/batchreplay`) makes new deliveries of them through their current routes.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_model::Event;
use inlet_model::delivery::{Delivery, DeliveryStatus};
use serde::Serialize;
use serde::ser::SerializeMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use inlet_store::{JobWork, ListQuery};
use inlet_web::{ApiError, ApiPath, ListPage, ok};

use crate::Admin;
use crate::deliveries::Count;

const DEFAULT_PER_PAGE: usize = 20;
const MAX_PER_PAGE: usize = 1000;

pub async fn list(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, query) = listing(&state, &project_id, query, &headers)?;
    let per_page = query.per_page;
    let page = state
        .scan(move |store| store.list_events(&project, &query))
        .await?;
    Ok(ok(
        StatusCode::OK,
        "Events fetched successfully",
        ListPage::of(page, per_page),
    ))
}

/// `GET /api/v1/projects/{project_id}/dead-letters`: broker messages that could not become
/// events, newest first, filtered and paged like events.
pub async fn dead_letters(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, query) = listing(&state, &project_id, query, &headers)?;
    let per_page = query.per_page;
    let page = state
        .scan(move |store| store.list_dead_letters(&project, &query))
        .await?;
    Ok(ok(
        StatusCode::OK,
        "Dead letters fetched successfully",
        ListPage::of(page, per_page),
    ))
}

/// Authorizes a listing of a project and reads its query; returns the project uid.
fn listing(
    state: &Admin,
    project_id: &str,
    query: Option<String>,
    headers: &HeaderMap,
) -> Result<(String, ListQuery), ApiError> {
    let project = super::projects::authorized(state, headers, project_id)?;
    Ok((project.uid, parse_query(query.as_deref().unwrap_or(""))?))
}

pub async fn get(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, event_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .auth
        .require_project(&state.store, &headers, &project_id)?;
    let (event, deliveries) = state
        .scan(move |store| {
            let Some(event) = store.event(&project_id, &event_id)? else {
                return Ok((None, Vec::new()));
            };
            Ok((Some(event), store.event_deliveries(&project_id, &event_id)?))
        })
        .await?;
    let event = event.ok_or_else(|| ApiError::not_found("event"))?;
    Ok(ok(
        StatusCode::OK,
        "Event fetched successfully",
        EventView {
            event,
            deliveries: DeliverySummary(deliveries),
        },
    ))
}

/// `PUT …/events/{event_id}/replay`: new deliveries of the event through the routes its
/// project's subscriptions give it now (new uids, queued now), in one write; answers them.
/// The only way to a second delivery of one event through one subscription. 409
/// `not_routed` when no subscription matches it now.
pub async fn replay(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, event_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::projects::authorized(&state, &headers, &project_id)?;
    let deliveries = state
        .scan(move |store| store.replay(&project_id, &event_id))
        .await?
        .ok_or_else(|| ApiError::not_found("event"))?;
    if deliveries.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_routed",
            "no subscription of the project matches the event now: nothing to replay it to",
        ));
    }
    Ok(ok(
        StatusCode::OK,
        "Event replayed successfully",
        deliveries,
    ))
}

/// `POST …/events/batchreplay` with the listing's filters: 202 with a job that replays every
/// event they match, page by page (`GET …/jobs/{job_id}`).
pub async fn batch_replay(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, filter) = listing(&state, &project_id, query, &headers)?;
    let work = JobWork::BatchReplay {
        filter,
        replayed: 0,
        deliveries: 0,
    };
    crate::jobs::start(&state, &project, work, "Batch replay processing").await
}

/// `GET …/events/countbatchreplayevents`: `{"num": n}`, the events the filters match.
pub async fn count_batch_replay(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (project, filter) = listing(&state, &project_id, query, &headers)?;
    let num = state
        .scan(move |store| store.count_events(&project, &filter))
        .await?;
    Ok(ok(StatusCode::OK, "events count successful", Count { num }))
}

/// An event with how its deliveries stand (Inlet's addition to Convoy's event).
#[derive(Serialize)]
struct EventView {
    #[serde(flatten)]
    event: Event,
    deliveries: DeliverySummary,
}

/// `{"total": n, "Scheduled": n, …}`: how many deliveries the event has, in each status
/// (every status named, so that a client reads a count without checking for it). An event
/// no subscription matched has `total` 0.
struct DeliverySummary(Vec<Delivery>);

impl Serialize for DeliverySummary {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1 + DeliveryStatus::ALL.len()))?;
        map.serialize_entry("total", &self.0.len())?;
        for status in DeliveryStatus::ALL {
            let count = self.0.iter().filter(|d| d.status == status).count();
            map.serialize_entry(&status, &count)?;
        }
        map.end()
    }
}

/// Convoy's query names for events and dead letters: `sourceId`, `eventType`, and those of
/// [`parse_listing`]; and Inlet's `unrouted=true` (events only: those no subscription
/// matched).
fn parse_query(query: &str) -> Result<ListQuery, ApiError> {
    parse_listing(query, |q, name, value| {
        match name {
            "sourceId" => q.source_id = Some(value).filter(|v| !v.is_empty()),
            "eventType" => q.event_type = Some(value).filter(|v| !v.is_empty()),
            "unrouted" => {
                q.unrouted = match value.as_str() {
                    "true" => true,
                    "false" | "" => false,
                    _ => {
                        return Err(ApiError::bad_request(
                            "invalid_query",
                            "unrouted: must be true or false",
                        ));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    })
}

/// The paging and time range of a listing, in Convoy's query names: `startDate`, `endDate`
/// (RFC 3339), `perPage`, `next_page_cursor`. Every other parameter goes to `filter`,
/// which reads the listing's own filters.
pub(crate) fn parse_listing(
    query: &str,
    mut filter: impl FnMut(&mut ListQuery, &str, String) -> Result<(), ApiError>,
) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery {
        per_page: DEFAULT_PER_PAGE,
        ..Default::default()
    };
    let mut end_bound = None;
    let mut cursor = None;
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let value = value.into_owned();
        match name.as_ref() {
            "startDate" => q.from_uid = Some(uid_at(&value, "startDate", 0)?),
            // The end is inclusive to the millisecond: stop before the next millisecond.
            "endDate" => end_bound = Some(uid_at(&value, "endDate", 1)?),
            "perPage" => {
                q.per_page = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_PER_PAGE).contains(n))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "invalid_query",
                            format!("perPage: must be a number from 1 to {MAX_PER_PAGE}"),
                        )
                    })?;
            }
            "next_page_cursor" if !value.is_empty() => {
                if ulid::Ulid::from_string(&value).is_err() {
                    return Err(ApiError::bad_request(
                        "invalid_query",
                        "next_page_cursor: not a cursor from a previous page",
                    ));
                }
                cursor = Some(value);
            }
            other => filter(&mut q, other, value)?,
        }
    }
    if let (Some(start), Some(end)) = (&q.from_uid, &end_bound)
        && start >= end
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "startDate: must not be after endDate",
        ));
    }
    q.before_uid = match (cursor, end_bound) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(q)
}

/// The smallest uid of the millisecond `offset_ms` after the given time.
fn uid_at(value: &str, name: &str, offset_ms: u64) -> Result<String, ApiError> {
    let time = OffsetDateTime::parse(value, &Rfc3339).map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            format!("{name}: must be an RFC 3339 time such as 2026-01-31T12:00:00Z"),
        )
    })?;
    let ms = u64::try_from(time.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| ApiError::bad_request("invalid_query", format!("{name}: before 1970")))?;
    Ok(ulid::Ulid::from_parts(ms + offset_ms, 0).to_string())
}
