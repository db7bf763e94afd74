//! `/api/v1/projects`: admin-only management of projects. An outgoing project gets an API
//! key, shown once in the creation response and stored only as a hash.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_auth::new_api_key;
use inlet_model::{Project, ProjectType, new_uid, now_rfc3339};
use inlet_store::Store;
use inlet_web::{ApiError, ApiPath, ListPage, ok};
use serde::{Deserialize, Serialize};

use crate::Admin;

#[derive(Deserialize)]
struct ProjectInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<ProjectType>,
}

fn valid_name(name: Option<String>) -> Result<String, ApiError> {
    match name.map(|n| n.trim().to_string()) {
        Some(n) if !n.is_empty() => Ok(n),
        _ => Err(ApiError::bad_request(
            "invalid_field",
            "name: a project needs a name",
        )),
    }
}

pub async fn create(
    State(state): State<Arc<Admin>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let input: ProjectInput = state.body(&headers, body).await?;
    let name = valid_name(input.name)?;
    let kind = input.kind.ok_or_else(|| {
        ApiError::bad_request("invalid_field", "type: must be incoming or outgoing")
    })?;
    let now = now_rfc3339();
    let project = Project {
        uid: new_uid(),
        name,
        kind,
        created_at: now.clone(),
        updated_at: now,
    };
    let api_key = (kind == ProjectType::Outgoing).then(new_api_key);
    let hash = api_key.as_ref().map(|(_, hash)| hash.as_slice());
    state.store.create_project(&project, hash).await?;
    tracing::info!(project = %project.uid, kind = ?project.kind, "project created");
    let data = Created {
        project,
        api_key: api_key.map(|(key, _)| key),
    };
    Ok(ok(
        StatusCode::CREATED,
        "Project created successfully",
        data,
    ))
}

/// A new project as answered once: with the plaintext API key of an outgoing project.
#[derive(Serialize)]
struct Created {
    #[serde(flatten)]
    project: Project,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<String>,
}

#[derive(Serialize)]
struct NewKey {
    api_key: String,
}

/// Replaces an outgoing project's API key (Convoy's route): the old key stops working at
/// once, the new one is shown in this answer only.
pub async fn regenerate_key(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let project = find(&state, &project_id)?;
    if project.kind != ProjectType::Outgoing {
        return Err(ApiError::bad_request(
            "wrong_project_type",
            "only outgoing projects have API keys",
        ));
    }
    let (key, hash) = new_api_key();
    state.store.replace_api_key(&project.uid, &hash).await?;
    tracing::info!(project = %project.uid, "project API key regenerated");
    Ok(ok(
        StatusCode::OK,
        "API key regenerated successfully",
        NewKey { api_key: key },
    ))
}

pub async fn list(
    State(state): State<Arc<Admin>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let projects = state.scan(Store::projects).await?;
    Ok(ok(
        StatusCode::OK,
        "Projects fetched successfully",
        ListPage::whole(projects),
    ))
}

pub async fn get(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let project = find(&state, &project_id)?;
    Ok(ok(StatusCode::OK, "Project fetched successfully", project))
}

pub async fn update(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let input: ProjectInput = state.body(&headers, body).await?;
    let mut project = find(&state, &project_id)?;
    if input.kind.is_some_and(|k| k != project.kind) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "type: a project's type cannot change; create a new project instead",
        ));
    }
    if input.name.is_some() {
        project.name = valid_name(input.name)?;
    }
    project.updated_at = now_rfc3339();
    state.store.update_project(&project).await?;
    Ok(ok(StatusCode::OK, "Project updated successfully", project))
}

/// Deletes the project with everything it owns: sources, API keys, events and indexes.
pub async fn delete(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let project = find(&state, &project_id)?;
    let uid = project.uid.clone();
    let sources = state.scan(move |store| store.sources(&uid)).await?;
    state.store.delete_project(&project.uid).await?;
    // Once the deletion is stored (consumers then store nothing more), all at once.
    state.brokers.stop_project(&project.uid).await;
    for source in &sources {
        state.metrics.forget_source(&source.uid);
    }
    state
        .metrics
        .forget_source(&inlet_metrics::rest_api_source(&project.uid));
    tracing::info!(project = %project.uid, "project deleted");
    Ok(ok(StatusCode::OK, "Project deleted successfully", ()))
}

pub(super) fn find(state: &Admin, project_id: &str) -> Result<Project, ApiError> {
    state
        .store
        .project(project_id)?
        .ok_or_else(|| ApiError::not_found("project"))
}
