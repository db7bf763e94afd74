//! `GET /api/v1/projects/{project_id}/dead-letters`: broker messages that could not become
//! events, newest first, paged like events (`sourceId`, `startDate`, `endDate`, `perPage`,
//! `next_page_cursor`).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};

use super::ListPage;
use crate::error::{ApiError, ok};
use crate::request::ApiPath;
use crate::server::AppState;

pub async fn list(
    State(state): State<Arc<AppState>>,
    ApiPath(project_id): ApiPath<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .auth
        .require_project(&state.store, &headers, &project_id)?;
    let project = super::projects::find(&state, &project_id)?;
    let query = super::events::parse_query(query.as_deref().unwrap_or(""))?;
    let page = state
        .store
        .list_dead_letters(&project.uid, &query)
        .map_err(ApiError::store)?;
    Ok(ok(
        StatusCode::OK,
        "Dead letters fetched successfully",
        ListPage::of(page, query.per_page),
    ))
}
