//! `/api/v1/projects/{project_id}/jobs[/{job_id}]`: the batch retries and replays of a
//! project and how far each has come (they are started at `…/eventdeliveries/batchretry`
//! and `…/events/batchreplay`, and run by `inlet_dispatch::jobs`); and the one answer of
//! every route that requeues a delivery it may not.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_store::{BulkJob, JobWork, NotRequeued, Page};
use inlet_web::{ApiError, ApiPath, ListPage, ok};
use serde::Serialize;

use crate::Admin;
use crate::events::parse_listing;

/// Newest first, paged as events are.
pub async fn list(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let project = super::projects::authorized(&state, &headers, &project_id)?;
    let query = parse_listing(query.as_deref().unwrap_or(""), |_, _, _| Ok(()))?;
    let per_page = query.per_page;
    let page = state
        .scan(move |store| store.list_jobs(&project.uid, &query))
        .await?;
    let page = Page {
        items: page.items.into_iter().map(JobView::of).collect(),
        next_cursor: page.next_cursor,
    };
    Ok(ok(
        StatusCode::OK,
        "Jobs fetched successfully",
        ListPage::of(page, per_page),
    ))
}

pub async fn get(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, job_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .auth
        .require_project(&state.store, &headers, &project_id)?;
    let job = state
        .store
        .job(&project_id, &job_id)?
        .ok_or_else(|| ApiError::not_found("job"))?;
    Ok(ok(
        StatusCode::OK,
        "Job fetched successfully",
        JobView::of(job),
    ))
}

/// Starts a job over `work`'s filter: 202 with the job, which runs in the background.
pub(crate) async fn start(
    state: &Admin,
    project_id: &str,
    work: JobWork,
    message: &str,
) -> Result<Response, ApiError> {
    let job = state.store.create_job(project_id, work).await?;
    Ok(ok(StatusCode::ACCEPTED, message, JobView::of(job)))
}

/// A job as the API shows it: the stored job, and where to follow it.
#[derive(Serialize)]
struct JobView {
    #[serde(flatten)]
    job: BulkJob,
    /// The path that shows its progress.
    url: String,
}

impl JobView {
    fn of(job: BulkJob) -> Self {
        let url = format!("/api/v1/projects/{}/jobs/{}", job.project_id, job.uid);
        Self { job, url }
    }
}

/// The 404 or 409 of a delivery that was not requeued, with its stable code.
pub(crate) fn refusal(project_id: &str, delivery_id: &str, why: NotRequeued) -> ApiError {
    let conflict = |code, message: String| ApiError::new(StatusCode::CONFLICT, code, message);
    match why {
        NotRequeued::Missing => ApiError::not_found("event delivery"),
        NotRequeued::Queued => conflict(
            "already_queued",
            "the delivery is not final: it is queued for its next attempt already".into(),
        ),
        NotRequeued::Delivered => conflict(
            "already_delivered",
            format!(
                "the delivery succeeded already; to send it again, POST \
                 /api/v1/projects/{project_id}/eventdeliveries/forceresend \
                 {{\"ids\": [\"{delivery_id}\"]}}"
            ),
        ),
        NotRequeued::EndpointInactive => conflict(
            "endpoint_inactive",
            "the delivery's endpoint is inactive: activate it (POST …/endpoints/{id}/activate) \
             before sending it again"
                .into(),
        ),
        NotRequeued::EndpointDeleted => conflict(
            "endpoint_deleted",
            "the delivery's endpoint was deleted: it cannot be sent again".into(),
        ),
    }
}
