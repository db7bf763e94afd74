//! `POST /api/v1/projects/{project_id}/events`: the REST API source of an outgoing project.
//! Authenticated with the project's API key; answered 201 once the event is on disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{ApiError, ok};
use crate::model::{Event, ProjectType, RawEncoding};
use crate::request::{ApiPath, parse_json, read_body, require_json};
use crate::server::AppState;

/// Convoy's event body, as the REST API and every broker source take it.
#[derive(Debug, Deserialize)]
pub struct EventInput {
    #[serde(default)]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
    #[serde(default)]
    pub custom_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl EventInput {
    /// Checks the required fields and builds the event.
    pub fn into_event(self, project_id: &str) -> Result<Event, ApiError> {
        let present = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let endpoint_id = present(self.endpoint_id);
        let owner_id = present(self.owner_id);
        if endpoint_id.is_none() && owner_id.is_none() {
            return Err(missing("endpoint_id", "or owner_id is required"));
        }
        let event_type =
            present(self.event_type).ok_or_else(|| missing("event_type", "is required"))?;
        let data = self
            .data
            .ok_or_else(|| missing("data", "is required (any JSON value)"))?;
        Ok(Event {
            uid: String::new(),
            event_type,
            project_id: project_id.to_string(),
            source_id: String::new(),
            endpoint_id,
            owner_id,
            headers: self
                .custom_headers
                .into_iter()
                .map(|(k, v)| (k, vec![v]))
                .collect(),
            url_query_params: String::new(),
            url_path: String::new(),
            idempotency_key: self.idempotency_key.unwrap_or_default(),
            is_duplicate_event: false,
            // `raw` is the text of `data`: kept once, as the store keeps it (`put_event`
            // and reads restore it).
            raw: String::new(),
            raw_encoding: RawEncoding::Data,
            data,
            broker: None,
            created_at: String::new(),
        })
    }
}

fn missing(field: &str, message: &str) -> ApiError {
    ApiError::bad_request("invalid_field", format!("{field}: {message}"))
}

pub async fn create_event(
    State(state): State<Arc<AppState>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let source = format!("rest_api:{project_id}");
    let result = async {
        state
            .auth
            .require_project(&state.store, &headers, &project_id)?;
        let project = state
            .store
            .project(&project_id)
            .map_err(ApiError::store)?
            .ok_or_else(|| ApiError::not_found("project"))?;
        if project.kind != ProjectType::Outgoing {
            return Err(ApiError::bad_request(
                "wrong_project_type",
                "the REST API source belongs to outgoing projects; an incoming project \
                 receives events at its sources' ingest URLs",
            ));
        }
        require_json(&headers)?;
        let body = read_body(
            &headers,
            body,
            state.settings.max_body_bytes,
            state.settings.body_timeout,
        )
        .await?;
        let event = parse_json::<EventInput>(&body)?.into_event(&project.uid)?;
        state.store.put_event(event).await.map_err(ApiError::store)
    }
    .await;
    match result {
        Ok(event) => {
            state.metrics.accepted(&source, 1);
            Ok(ok(
                StatusCode::CREATED,
                "Endpoint event created successfully",
                event,
            ))
        }
        Err(e) => {
            state.metrics.rejected(&source, e.code);
            Err(e)
        }
    }
}
