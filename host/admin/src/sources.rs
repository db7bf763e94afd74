//! `/api/v1/projects/{project_id}/sources`: Convoy's source JSON, validated field by field.
//! Managed by the admin or the project's API key; secrets are always masked on the way out.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_brokers::StatusView;
use inlet_model::pub_sub::PubSubConfig;
use inlet_model::verifier::VerifierConfig;
use inlet_model::{
    ConfigValue, CustomResponse, FieldError, ProjectType, Source, SourceType, new_mask_id, new_uid,
    now_rfc3339, restore,
};
use inlet_payload::Location;
use inlet_plugin_host::PluginHost;
use inlet_verify::Verifier;
use inlet_web::{ApiError, ApiPath, ListPage, ok};
use serde::{Deserialize, Serialize};

use crate::Admin;

/// Convoy's source body. Every field is optional here so that the same shape serves a
/// create (where `validate` demands what is required) and a partial update. Fields Inlet
/// does not use (Convoy's `forward_headers`, `body_function`, …) are accepted and ignored.
#[derive(Deserialize, Default)]
struct SourceInput {
    name: Option<String>,
    #[serde(rename = "type")]
    kind: Option<SourceType>,
    provider: Option<String>,
    provider_config: Option<BTreeMap<String, ConfigValue>>,
    verifier: Option<VerifierConfig>,
    idempotency_keys: Option<Vec<String>>,
    event_type_location: Option<String>,
    custom_response: Option<CustomResponse>,
    pub_sub: Option<PubSubConfig>,
    max_payload_bytes: Option<u64>,
    is_disabled: Option<bool>,
}

pub async fn create(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state
        .auth
        .require_project(&state.store, &headers, &project_id)?;
    let project = super::projects::find(&state, &project_id)?;
    let mut input: SourceInput = state.body(&headers, body).await?;
    let now = now_rfc3339();
    let mut source = Source {
        uid: new_uid(),
        project_id: project.uid,
        mask_id: new_mask_id(),
        name: String::new(),
        kind: input
            .kind
            .ok_or_else(|| field("type", "required: http or pub_sub"))?,
        provider: String::new(),
        provider_config: BTreeMap::new(),
        verifier: VerifierConfig::default(),
        idempotency_keys: Vec::new(),
        event_type_location: None,
        custom_response: None,
        max_payload_bytes: None,
        pub_sub: None,
        is_disabled: false,
        created_at: now.clone(),
        updated_at: now,
    };
    if source.kind == SourceType::Http
        && input.verifier.is_none()
        && input.provider.as_deref().is_none_or(str::is_empty)
    {
        return Err(field(
            "verifier",
            "required; use {\"type\": \"noop\"} to accept unauthenticated events",
        ));
    }
    settle_secrets(&mut input, None).map_err(invalid)?;
    apply(&mut source, input);
    secure_provider_config(&mut source, &state.plugins);
    validate(&source, project.kind, &state)?;
    // Refused (404) when the project was deleted since it was read.
    state.store.create_source(&source).await?;
    tracing::info!(project = %source.project_id, source = %source.uid, "source created");
    state.brokers.apply(&source).await;
    Ok(ok(
        StatusCode::CREATED,
        "Source created successfully",
        view(&source, &state),
    ))
}

pub async fn list(
    State(state): State<Arc<Admin>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .auth
        .require_project(&state.store, &headers, &project_id)?;
    let project = super::projects::find(&state, &project_id)?;
    let sources = state.scan(move |store| store.sources(&project.uid)).await?;
    let views = sources.iter().map(|s| view(s, &state)).collect();
    Ok(ok(
        StatusCode::OK,
        "Sources fetched successfully",
        ListPage::whole(views),
    ))
}

pub async fn get(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, source_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .auth
        .require_project(&state.store, &headers, &project_id)?;
    let source = find(&state, &project_id, &source_id)?;
    Ok(ok(
        StatusCode::OK,
        "Source fetched successfully",
        view(&source, &state),
    ))
}

/// A partial update: fields present replace the stored ones. A configuration echoed back
/// with redacted secrets keeps the stored secrets.
pub async fn update(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, source_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    state
        .auth
        .require_project(&state.store, &headers, &project_id)?;
    let project = super::projects::find(&state, &project_id)?;
    let mut source = find(&state, &project_id, &source_id)?;
    let mut input: SourceInput = state.body(&headers, body).await?;
    if input.kind.is_some_and(|k| k != source.kind) {
        return Err(field(
            "type",
            "a source's type cannot change; create a new source instead",
        ));
    }
    let provider_changes = input
        .provider
        .as_ref()
        .is_some_and(|p| p.trim() != source.provider);
    if provider_changes && input.verifier.is_none() {
        return Err(field(
            "verifier",
            "changing provider changes how the source verifies its requests: send the \
             verifier too (use {\"type\": \"noop\"} to accept unauthenticated events)",
        ));
    }
    settle_secrets(&mut input, Some(&source)).map_err(invalid)?;
    apply(&mut source, input);
    secure_provider_config(&mut source, &state.plugins);
    validate(&source, project.kind, &state)?;
    source.updated_at = now_rfc3339();
    // Refused (404) when the source was deleted since it was read: never brought back.
    state.store.update_source(&source).await?;
    tracing::info!(project = %source.project_id, source = %source.uid, "source updated");
    state.brokers.apply(&source).await;
    Ok(ok(
        StatusCode::OK,
        "Source updated successfully",
        view(&source, &state),
    ))
}

pub async fn delete(
    State(state): State<Arc<Admin>>,
    ApiPath((project_id, source_id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state
        .auth
        .require_project(&state.store, &headers, &project_id)?;
    let source = find(&state, &project_id, &source_id)?;
    state.store.delete_source(&source).await?;
    // Once the deletion is stored, so that no change racing it starts them again.
    state.brokers.stop(&source.uid).await;
    state.metrics.forget_source(&source.uid);
    tracing::info!(project = %source.project_id, source = %source.uid, "source deleted");
    Ok(ok(StatusCode::OK, "Source deleted successfully", ()))
}

/// Settles the secrets a create (no stored source) or an update gives: where they are
/// echoed back redacted, the stored ones are kept; a redaction nothing stored backs is
/// refused.
fn settle_secrets(input: &mut SourceInput, stored: Option<&Source>) -> Result<(), FieldError> {
    if let Some(verifier) = &mut input.verifier {
        verifier.settle_secrets(stored.map(|s| &s.verifier))?;
    }
    if let Some(pub_sub) = &mut input.pub_sub {
        pub_sub.settle_secrets(stored.and_then(|s| s.pub_sub.as_ref()))?;
    }
    for (name, value) in input.provider_config.iter_mut().flatten() {
        if let ConfigValue::Plain(value) = value {
            let old = stored.and_then(|s| s.provider_config.get(name));
            restore(
                value,
                old.map(ConfigValue::expose),
                &format!("provider_config.{name}"),
            )?;
        }
    }
    Ok(())
}

fn find(state: &Admin, project_id: &str, source_id: &str) -> Result<Source, ApiError> {
    state
        .store
        .source(project_id, source_id)?
        .ok_or_else(|| ApiError::not_found("source"))
}

fn apply(source: &mut Source, input: SourceInput) {
    if let Some(name) = input.name {
        source.name = name.trim().to_string();
    }
    if let Some(provider) = input.provider {
        source.provider = provider.trim().to_string();
    }
    if let Some(config) = input.provider_config {
        source.provider_config = config;
    }
    if let Some(verifier) = input.verifier {
        source.verifier = verifier;
    }
    if let Some(keys) = input.idempotency_keys {
        source.idempotency_keys = keys;
    }
    if let Some(location) = input.event_type_location {
        source.event_type_location = Some(location).filter(|l| !l.is_empty());
    }
    if let Some(response) = input.custom_response {
        source.custom_response = Some(response).filter(|r| !r.body.is_empty());
    }
    if input.max_payload_bytes.is_some() {
        source.max_payload_bytes = input.max_payload_bytes;
    }
    if let Some(disabled) = input.is_disabled {
        source.is_disabled = disabled;
    }
    if let Some(mut pub_sub) = input.pub_sub {
        if let Some(kafka) = &mut pub_sub.kafka
            && kafka.consumer_group_id.is_empty()
        {
            kafka.consumer_group_id = format!("inlet-{}", source.uid);
        }
        source.pub_sub = Some(pub_sub);
    }
}

fn validate(source: &Source, project: ProjectType, state: &Admin) -> Result<(), ApiError> {
    if source.name.is_empty() {
        return Err(field("name", "a source needs a name"));
    }
    if source.kind == SourceType::PubSub {
        return validate_pub_sub(source, project, state);
    }
    if source.pub_sub.is_some() {
        return Err(field(
            "pub_sub",
            "only a source of type pub_sub consumes a broker",
        ));
    }
    if project != ProjectType::Incoming {
        return Err(field(
            "type",
            "http sources belong to incoming projects; an outgoing project receives events \
             through its REST API source",
        ));
    }
    if source.provider.is_empty() {
        Verifier::compile(&source.verifier).map_err(invalid)?;
    } else {
        validate_plugin_config(source, &state.plugins)?;
    }
    for location in &source.idempotency_keys {
        Location::parse(location).map_err(|m| field("idempotency_keys", &m))?;
    }
    if let Some(location) = &source.event_type_location {
        Location::parse(location).map_err(|m| field("event_type_location", &m))?;
    }
    if let Some(response) = &source.custom_response
        && http::HeaderValue::from_str(&response.content_type).is_err()
    {
        return Err(field(
            "custom_response.content_type",
            "must be a valid Content-Type value",
        ));
    }
    if source.max_payload_bytes == Some(0) {
        return Err(field("max_payload_bytes", "must be positive"));
    }
    Ok(())
}

/// The outbound allow-list binds every caller alike, the admin token included: which hosts
/// Inlet may reach is the operator's configuration, not an API permission.
fn validate_pub_sub(source: &Source, project: ProjectType, state: &Admin) -> Result<(), ApiError> {
    if project != ProjectType::Outgoing {
        return Err(field(
            "type",
            "pub_sub sources belong to outgoing projects; an incoming project receives \
             webhooks through http sources",
        ));
    }
    if !source.provider.is_empty() {
        return Err(field("provider", "providers verify http sources only"));
    }
    let config = source.pub_sub.as_ref().ok_or_else(|| {
        field(
            "pub_sub",
            "required for type pub_sub: {\"type\": \"kafka\", \"kafka\": {…}}",
        )
    })?;
    Ok(state.brokers.check(config)?)
}

/// A provider source needs a loaded plugin and every config field the plugin requires:
/// `secret` from `verifier.hmac.secret`, the others from `provider_config`.
fn validate_plugin_config(source: &Source, plugins: &PluginHost) -> Result<(), ApiError> {
    let plugin = plugins.get(&source.provider).ok_or_else(|| {
        let loaded: Vec<String> = plugins.list().into_iter().map(|p| p.name).collect();
        ApiError::bad_request(
            "unknown_provider",
            format!(
                "provider: no plugin named {:?} is loaded (loaded: {})",
                source.provider,
                loaded.join(", ")
            ),
        )
    })?;
    for wanted in plugin.config.iter().filter(|f| f.required) {
        let given = match wanted.name.as_str() {
            "secret" => source.verifier.hmac.as_ref().map(|h| h.secret.expose()),
            name => source.provider_config.get(name).map(ConfigValue::expose),
        };
        if given.is_none_or(str::is_empty) {
            let place = match wanted.name.as_str() {
                "secret" => "verifier.hmac.secret".to_string(),
                name => format!("provider_config.{name}"),
            };
            return Err(field(
                &place,
                &format!(
                    "required by the {} plugin: {}",
                    plugin.name, wanted.description
                ),
            ));
        }
    }
    Ok(())
}

fn field(name: &str, message: &str) -> ApiError {
    invalid(FieldError::new(name, message))
}

fn invalid(error: FieldError) -> ApiError {
    inlet_model::Invalid::from(error).into()
}

/// A source as the API shows it: its secrets redacted (the verifier's and the broker's by
/// their type, and the plugin config fields the plugin marks secret), with the public
/// ingest URL (HTTP) or the consumers' status (`pub_sub`).
#[derive(Serialize)]
struct SourceView {
    #[serde(flatten)]
    source: Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<StatusView>,
}

/// Makes the `provider_config` fields the plugin declares secret [`ConfigValue::Secret`]:
/// every field while the plugin is not loaded (fail closed).
fn secure_provider_config(source: &mut Source, plugins: &PluginHost) {
    let declared = plugins.get(&source.provider).map(|p| &p.config);
    for (name, value) in &mut source.provider_config {
        if declared.is_none_or(|fields| fields.iter().any(|f| f.secret && f.name == *name)) {
            value.make_secret();
        }
    }
}

fn view(source: &Source, state: &Admin) -> SourceView {
    let mut shown = source.clone();
    // A source stored before its plugin declared a field secret is shown redacted too.
    secure_provider_config(&mut shown, &state.plugins);
    let (url, status) = match source.kind {
        SourceType::Http => (
            Some(format!("{}/ingest/{}", state.public_url, source.mask_id)),
            None,
        ),
        SourceType::PubSub => {
            let status = state.brokers.status(&source.uid);
            (None, Some(status.unwrap_or_else(StatusView::stopped)))
        }
    };
    SourceView {
        source: shown,
        url,
        status,
    }
}
