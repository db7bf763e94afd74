//! `POST /api/v1/projects/{project_id}/events`: the REST API source of an outgoing project.
//! Authenticated with the project's API key; answered 201 once the event is on disk.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_metrics::{OTHER, rest_api_source};
use inlet_model::ProjectType;
use inlet_payload::parse_event;
use inlet_web::{ApiError, ApiPath, ok, require_json};

use crate::Intake;

pub async fn create_event(
    State(state): State<Arc<Intake>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // Until the caller is known to hold this project, the path is a stranger's text: it
    // never becomes a label.
    let mut source = OTHER.to_string();
    let result = async {
        state
            .auth
            .require_project(&state.store, &headers, &project_id)?;
        let project = state
            .store
            .project(&project_id)?
            .ok_or_else(|| ApiError::not_found("project"))?;
        source = rest_api_source(&project.uid);
        if project.kind != ProjectType::Outgoing {
            return Err(ApiError::bad_request(
                "wrong_project_type",
                "the REST API source belongs to outgoing projects; an incoming project \
                 receives events at its sources' ingest URLs",
            ));
        }
        require_json(&headers)?;
        let (body, room) = state
            .body_budget
            .read(&headers, body, state.max_body_bytes, state.body_timeout)
            .await?;
        let event = parse_event(&body, &project.uid)?;
        Ok((state.store.append_event(event).await?, room))
    }
    .await;
    match result {
        // The room is held until the answer, which holds the event's data, is made.
        Ok((event, _room)) => {
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
