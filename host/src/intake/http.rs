//! `POST /ingest/{mask_id}`: the public URL of an HTTP source. Intake → verify → store →
//! acknowledge: the 200 is sent only after the event is on disk.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use serde_json::json;

use super::payload::LazyJson;
use super::{Location, Payload};
use crate::error::ApiError;
use crate::model::{Event, Source};
use crate::request::read_body;
use crate::secret::MASK;
use crate::server::AppState;
use crate::verify::VerifyError;

pub async fn ingest(
    State(state): State<Arc<AppState>>,
    Path(mask_id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(source) = state
        .store
        .source_by_mask(&mask_id)
        .map_err(ApiError::store)?
    else {
        state.metrics.rejected("unknown", "source_not_found");
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "source_not_found",
            "no source has this ingest URL",
        ));
    };
    match accept(&state, &source, &uri, &headers, body).await {
        Ok(event) => {
            state.metrics.accepted(&source.uid);
            tracing::debug!(source = %source.uid, event = %event.uid, duplicate = event.is_duplicate_event, "event accepted");
            Ok(acknowledgement(&source))
        }
        Err(e) => {
            state.metrics.rejected(&source.uid, e.code);
            tracing::info!(source = %source.uid, reason = e.code, "ingest request refused");
            Err(e)
        }
    }
}

async fn accept(
    state: &AppState,
    source: &Source,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Event, ApiError> {
    if source.is_disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "source_disabled",
            "this source is disabled",
        ));
    }
    let limit = source
        .max_payload_bytes
        .map_or(state.settings.max_body_bytes, |l| {
            l.min(state.settings.max_body_bytes)
        });
    let body = read_body(headers, body, limit).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    source
        .verifier
        .compile()
        .map_err(|_| VerifyError::Misconfigured)
        .and_then(|verifier| verifier.verify(headers, &body, now))
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.message()))?;

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let payload = Payload::from_body(content_type, body).await?;
    let query = uri.query().unwrap_or("");
    let data = LazyJson::new(&payload.data);
    let read = |location: &str| {
        Location::parse(location)
            .ok()
            .and_then(|l| l.read(headers, query, &data))
    };
    let event_type = source
        .event_type_location
        .as_deref()
        .and_then(read)
        .unwrap_or_else(|| source.mask_id.clone());
    let idempotency_key = source
        .idempotency_keys
        .iter()
        .filter_map(|l| read(l))
        .collect::<Vec<_>>()
        .join(",");
    drop(data);

    let event = Event {
        uid: String::new(),
        event_type,
        project_id: source.project_id.clone(),
        source_id: source.uid.clone(),
        endpoint_id: None,
        owner_id: None,
        headers: stored_headers(headers, source.verifier.credential_header()),
        url_query_params: query.to_string(),
        url_path: uri.path().to_string(),
        idempotency_key,
        is_duplicate_event: false,
        data: payload.data,
        raw: payload.raw,
        raw_encoding: payload.raw_encoding,
        created_at: String::new(),
    };
    state.store.put_event(event).await.map_err(ApiError::store)
}

/// Request headers by lower-case name, with the verifier's credential header masked.
fn stored_headers(headers: &HeaderMap, credential: Option<&str>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let shown = if credential.is_some_and(|c| name.as_str().eq_ignore_ascii_case(c)) {
            MASK.to_string()
        } else {
            String::from_utf8_lossy(value.as_bytes()).into_owned()
        };
        out.entry(name.as_str().to_string())
            .or_default()
            .push(shown);
    }
    out
}

/// Convoy's answer, or the source's custom response.
fn acknowledgement(source: &Source) -> Response {
    match &source.custom_response {
        Some(custom) => {
            let content_type = HeaderValue::from_str(&custom.content_type)
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or(HeaderValue::from_static("text/plain; charset=utf-8"));
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, content_type)],
                custom.body.clone(),
            )
                .into_response()
        }
        None => (
            StatusCode::OK,
            axum::Json(json!({"status": true, "message": "Event received"})),
        )
            .into_response(),
    }
}
