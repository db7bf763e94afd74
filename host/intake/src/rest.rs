//! `POST /api/v1/projects/{project_id}/events[/fanout|/broadcast]`: the REST API source of
//! an outgoing project, in Convoy's three forms: to one endpoint (or an owner's), to every
//! endpoint of an owner, to every subscription. Authenticated with the project's API key;
//! answered 201 once the event is on disk, stored with its deliveries.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use inlet_metrics::{OTHER, rest_api_source};
use inlet_model::{Event, Invalid, ProjectType};
use inlet_payload::EventInput;
use inlet_web::{ApiError, ApiPath, ok, require_json};

use crate::Intake;

pub async fn create_event(
    state: State<Arc<Intake>>,
    path: ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let message = "Endpoint event created successfully";
    accept(state, path, headers, body, EventInput::into_event, message).await
}

pub async fn fanout(
    state: State<Arc<Intake>>,
    path: ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let message = "Fanout event created successfully";
    accept(state, path, headers, body, EventInput::into_fanout, message).await
}

pub async fn broadcast(
    state: State<Arc<Intake>>,
    path: ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let message = "Broadcast event created successfully";
    accept(
        state,
        path,
        headers,
        body,
        EventInput::into_broadcast,
        message,
    )
    .await
}

/// Reads the body, builds the event in the route's form (`build`) and stores it.
async fn accept(
    State(state): State<Arc<Intake>>,
    ApiPath(project_id): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
    build: fn(EventInput, &str) -> Result<Event, Invalid>,
    message: &str,
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
        let event = build(inlet_payload::json::parse(&body)?, &project.uid)?;
        // As Convoy: an event for an endpoint the project does not have is refused, not
        // stored to go nowhere.
        if let Some(endpoint) = &event.endpoint_id
            && state.store.endpoint(&project.uid, endpoint)?.is_none()
        {
            return Err(ApiError::bad_request(
                "unknown_endpoint",
                format!("endpoint_id: the project has no endpoint {endpoint:?}"),
            ));
        }
        Ok((state.store.append_event(event).await?, room))
    }
    .await;
    match result {
        // The room is held until the answer, which holds the event's data, is made.
        Ok((event, _room)) => {
            state.metrics.accepted(&source, 1);
            Ok(ok(StatusCode::CREATED, message, event))
        }
        Err(e) => {
            state.metrics.rejected(&source, e.code);
            Err(e)
        }
    }
}
