//! `/api/v1/projects`: admin-only management of projects and their delivery `config` (retry
//! strategy, signature). An outgoing project gets an API key, shown once in the creation
//! response and stored only as a hash.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_auth::new_api_key;
use inlet_delivery::signature::{ConvoyScheme, Encoding, Hash};
use inlet_model::delivery::{
    CircuitBreakerConfig, META_EVENT_TYPES, MetaEventConfig, ProjectConfig, RetentionPolicy,
    RetryStrategy, SignatureConfig,
};
use inlet_model::{Project, ProjectType, new_uid, now_rfc3339};
use inlet_store::Store;
use inlet_web::{ApiError, ApiPath, ListPage, ok};
use serde::{Deserialize, Serialize};

use crate::{Admin, field, invalid, nullable};

/// Most signature versions a project may have: each adds a signature per live secret to
/// every request's header.
const MAX_SIGNATURE_VERSIONS: usize = 10;

#[derive(Deserialize)]
struct ProjectInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<ProjectType>,
    config: Option<ConfigInput>,
}

/// Convoy's project `config`, the parts Inlet honours; its other settings are accepted and
/// ignored. A part left out keeps its value (the default, on create).
#[derive(Deserialize)]
struct ConfigInput {
    strategy: Option<RetryStrategy>,
    signature: Option<SignatureConfig>,
    disable_endpoint: Option<bool>,
    circuit_breaker: Option<CircuitBreakerConfig>,
    /// `null` keeps everything for ever.
    #[serde(default, deserialize_with = "nullable")]
    retention_policy: Option<Option<RetentionPolicy>>,
    /// `null` sends none.
    #[serde(default, deserialize_with = "nullable")]
    meta_event: Option<Option<MetaEventConfig>>,
}

impl ConfigInput {
    fn apply(self, config: &mut ProjectConfig) -> Result<(), ApiError> {
        if let Some(strategy) = self.strategy {
            strategy.validate("config.strategy").map_err(invalid)?;
            config.strategy = strategy;
        }
        if let Some(signature) = self.signature {
            config.signature = valid_signature(signature)?;
        }
        if let Some(disable) = self.disable_endpoint {
            config.disable_endpoint = disable;
        }
        if let Some(breaker) = self.circuit_breaker {
            breaker.validate().map_err(invalid)?;
            config.circuit_breaker = breaker;
        }
        if let Some(retention) = self.retention_policy {
            if let Some(policy) = &retention {
                policy.duration().map_err(invalid)?;
            }
            config.retention_policy = retention;
        }
        if let Some(meta) = self.meta_event {
            if let Some(meta) = &meta {
                valid_meta_event(meta)?;
            }
            config.meta_event = meta;
        }
        Ok(())
    }
}

/// Checks the signature settings with the parsers delivery signs with, and keeps them in
/// their canonical spelling (the header name as given).
fn valid_signature(mut signature: SignatureConfig) -> Result<SignatureConfig, ApiError> {
    ConvoyScheme::parse_header(&signature.header, "config.signature.header").map_err(invalid)?;
    signature.header = signature.header.trim().to_string();
    if signature.versions.is_empty() || signature.versions.len() > MAX_SIGNATURE_VERSIONS {
        return Err(field(
            "config.signature.versions",
            format!(
                "must list from 1 to {MAX_SIGNATURE_VERSIONS} versions ({{\"hash\", \"encoding\"}})"
            ),
        ));
    }
    for (i, version) in signature.versions.iter_mut().enumerate() {
        let at = format!("config.signature.versions[{i}]");
        version.hash = match Hash::parse(&version.hash, &format!("{at}.hash")).map_err(invalid)? {
            Hash::Sha256 => "SHA256",
            Hash::Sha512 => "SHA512",
        }
        .into();
        version.encoding =
            match Encoding::parse(&version.encoding, &format!("{at}.encoding")).map_err(invalid)? {
                Encoding::Hex => "hex",
                Encoding::Base64 => "base64",
            }
            .into();
    }
    Ok(signature)
}

/// The meta event types must be known; the endpoint is checked when a meta event is sent
/// (it may be created after the project).
fn valid_meta_event(meta: &MetaEventConfig) -> Result<(), ApiError> {
    if meta.is_enabled && meta.endpoint_id.trim().is_empty() {
        return Err(field(
            "config.meta_event.endpoint_id",
            "required when meta events are enabled: the endpoint that receives them",
        ));
    }
    for (i, kind) in meta.event_type.iter().enumerate() {
        if !META_EVENT_TYPES.contains(&kind.as_str()) {
            return Err(field(
                &format!("config.meta_event.event_type[{i}]"),
                format!(
                    "{kind:?} is not a meta event type; one of {}",
                    META_EVENT_TYPES.join(", ")
                ),
            ));
        }
    }
    Ok(())
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
    let mut config = ProjectConfig::default();
    if let Some(input) = input.config {
        input.apply(&mut config)?;
    }
    let now = now_rfc3339();
    let project = Project {
        uid: new_uid(),
        name,
        kind,
        config,
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
    if let Some(config) = input.config {
        config.apply(&mut project.config)?;
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
    let (sources, endpoints) = state
        .scan(move |store| Ok((store.sources(&uid)?, store.endpoints(&uid)?)))
        .await?;
    state.store.delete_project(&project.uid).await?;
    // Once the deletion is stored (consumers then store nothing more), all at once.
    state.brokers.stop_project(&project.uid).await;
    for source in &sources {
        state.metrics.forget_source(&source.uid);
    }
    state
        .metrics
        .forget_source(&inlet_metrics::rest_api_source(&project.uid));
    for endpoint in &endpoints {
        state.metrics.forget_endpoint(&endpoint.uid);
    }
    tracing::info!(project = %project.uid, "project deleted");
    Ok(ok(StatusCode::OK, "Project deleted successfully", ()))
}

/// The project, for the admin or the holder of its API key.
pub(super) fn authorized(
    state: &Admin,
    headers: &HeaderMap,
    project_id: &str,
) -> Result<Project, ApiError> {
    state
        .auth
        .require_project(&state.store, headers, project_id)?;
    find(state, project_id)
}

pub(super) fn find(state: &Admin, project_id: &str) -> Result<Project, ApiError> {
    state
        .store
        .project(project_id)?
        .ok_or_else(|| ApiError::not_found("project"))
}
