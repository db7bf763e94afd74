//! `/api/v1/projects`: admin-only management of projects. An outgoing project gets an API
//! key, shown once in the creation response and stored only as a hash.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::json;

use super::{ListPage, admin_body};
use crate::auth::new_api_key;
use crate::error::{ApiError, ok};
use crate::model::{Project, ProjectType, new_uid, now_rfc3339};
use crate::request::ApiPath;
use crate::server::AppState;
use crate::store::{Cf, Write};

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
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let input: ProjectInput = admin_body(&state, &headers, body).await?;
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
    let mut writes = vec![put_project(&project)?];
    let api_key = (kind == ProjectType::Outgoing).then(|| {
        let (key, hash) = new_api_key();
        writes.push(Write::Put(
            Cf::ApiKeys,
            hash.to_vec(),
            project.uid.clone().into_bytes(),
        ));
        key
    });
    state.store.write(writes).await.map_err(ApiError::store)?;
    tracing::info!(project = %project.uid, kind = ?project.kind, "project created");
    let mut data = json!(project);
    if let Some(key) = api_key {
        data["api_key"] = json!(key);
    }
    Ok(ok(
        StatusCode::CREATED,
        "Project created successfully",
        data,
    ))
}

/// Replaces an outgoing project's API key (Convoy's route): the old key stops working at
/// once, the new one is shown in this answer only.
pub async fn regenerate_key(
    State(state): State<Arc<AppState>>,
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
    let mut writes = api_key_removals(&state, &project.uid)?;
    let (key, hash) = new_api_key();
    writes.push(Write::Put(
        Cf::ApiKeys,
        hash.to_vec(),
        project.uid.clone().into_bytes(),
    ));
    state.store.write(writes).await.map_err(ApiError::store)?;
    tracing::info!(project = %project.uid, "project API key regenerated");
    Ok(ok(
        StatusCode::OK,
        "API key regenerated successfully",
        json!({"api_key": key}),
    ))
}

pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let projects = state.store.projects().map_err(ApiError::store)?;
    Ok(ok(
        StatusCode::OK,
        "Projects fetched successfully",
        ListPage::whole(projects),
    ))
}

pub async fn get(
    State(state): State<Arc<AppState>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let project = find(&state, &project_id)?;
    Ok(ok(StatusCode::OK, "Project fetched successfully", project))
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let input: ProjectInput = admin_body(&state, &headers, body).await?;
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
    state
        .store
        .write(vec![put_project(&project)?])
        .await
        .map_err(ApiError::store)?;
    Ok(ok(StatusCode::OK, "Project updated successfully", project))
}

/// Deletes the project with everything it owns: sources, API keys, events and indexes.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.auth.require_admin(&state.store, &headers)?;
    let project = find(&state, &project_id)?;
    let store = &state.store;
    let uid = project.uid.as_bytes().to_vec();
    let mut writes = vec![
        Write::Delete(Cf::Projects, uid.clone()),
        Write::DeletePrefix(Cf::Sources, uid.clone()),
        Write::DeletePrefix(Cf::Events, uid.clone()),
        Write::DeletePrefix(Cf::Idempotency, uid.clone()),
        Write::DeletePrefix(Cf::DeadLetters, uid),
    ];
    let sources = store.sources(&project.uid).map_err(ApiError::store)?;
    for source in &sources {
        // Consumers stop first, so none stores into the project after it is gone.
        state.brokers.stop(&source.uid).await;
        writes.extend(super::sources::index_removals(source));
    }
    writes.extend(api_key_removals(&state, &project.uid)?);
    store.write(writes).await.map_err(ApiError::store)?;
    tracing::info!(project = %project.uid, "project deleted");
    Ok(ok(StatusCode::OK, "Project deleted successfully", ()))
}

/// Deletes of every API key of a project.
fn api_key_removals(state: &AppState, project_id: &str) -> Result<Vec<Write>, ApiError> {
    let hashes = state
        .store
        .key_hashes_of(project_id)
        .map_err(ApiError::store)?;
    Ok(hashes
        .into_iter()
        .map(|hash| Write::Delete(Cf::ApiKeys, hash))
        .collect())
}

pub(super) fn find(state: &AppState, project_id: &str) -> Result<Project, ApiError> {
    state
        .store
        .project(project_id)
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found("project"))
}

fn put_project(project: &Project) -> Result<Write, ApiError> {
    Ok(Write::Put(
        Cf::Projects,
        project.uid.clone().into_bytes(),
        serde_json::to_vec(project).map_err(|e| ApiError::store(e.into()))?,
    ))
}
