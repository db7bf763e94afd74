//! `POST|GET /ingest/{mask_id}`: the public URL of an HTTP source. Intake → verify → store →
//! acknowledge: the 200 is sent only after the event is on disk. A source with a `provider`
//! is verified by that plugin, which may also answer the request itself (handshakes).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use serde_json::json;

use super::payload::LazyJson;
use super::{Location, Payload};
use crate::error::ApiError;
use crate::model::{Event, Source};
use crate::plugin::{Accept, Request as PluginRequest, Response as PluginResponse, Verdict};
use crate::request::{ApiPath, read_body};
use crate::secret::MASK;
use crate::server::AppState;
use crate::verify::VerifyError;

pub async fn ingest(
    State(state): State<Arc<AppState>>,
    ApiPath(mask_id): ApiPath<String>,
    method: Method,
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
    match accept(&state, &source, &method, &uri, &headers, body).await {
        Ok(Outcome::Stored(event)) => {
            state.metrics.accepted(&source.uid, 1);
            tracing::debug!(source = %source.uid, event = %event.uid, duplicate = event.is_duplicate_event, "event accepted");
            Ok(acknowledgement(&source))
        }
        Ok(Outcome::Answered(response)) => Ok(response),
        Err(e) => {
            state.metrics.rejected(&source.uid, e.code);
            // Debug, not info: refusals are counted in metrics, and a flood of forged
            // requests must not become a flood of log lines.
            tracing::debug!(source = %source.uid, reason = e.code, "ingest request refused");
            Err(e)
        }
    }
}

enum Outcome {
    Stored(Event),
    /// The plugin answered the request itself; nothing is stored.
    Answered(Response),
}

async fn accept(
    state: &AppState,
    source: &Source,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Outcome, ApiError> {
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
    let body = read_body(headers, body, limit, state.settings.body_timeout).await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let accepted = if source.provider.is_empty() {
        if method != Method::POST {
            return Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "send events with POST; GET is for provider handshakes",
            ));
        }
        source
            .verifier
            .compile()
            .map_err(|_| VerifyError::Misconfigured)
            .and_then(|verifier| verifier.verify(headers, &body, now))
            .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.message()))?;
        Accept {
            event_type: None,
            idempotency_key: None,
        }
    } else {
        let request = PluginRequest {
            method: method.to_string(),
            path: uri.path().to_string(),
            query: uri.query().unwrap_or("").to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            received_at: now,
        };
        match plugin_verdict(state, source, request).await? {
            Verdict::Accept(accept) => accept,
            Verdict::Respond(response) => return Ok(Outcome::Answered(plugin_response(response))),
            Verdict::Reject(reason) => {
                tracing::debug!(source = %source.uid, plugin = %source.provider, %reason, "plugin rejected a request");
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "plugin_rejected",
                    "the request failed the provider's verification",
                ));
            }
        }
    };

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
    let event_type = accepted
        .event_type
        .or_else(|| source.event_type_location.as_deref().and_then(read))
        .unwrap_or_else(|| source.mask_id.clone());
    let idempotency_key = accepted.idempotency_key.unwrap_or_else(|| {
        source
            .idempotency_keys
            .iter()
            .filter_map(|l| read(l))
            .collect::<Vec<_>>()
            .join(",")
    });
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
        broker: None,
        created_at: String::new(),
    };
    let stored = state
        .store
        .put_event(event)
        .await
        .map_err(ApiError::store)?;
    Ok(Outcome::Stored(stored))
}

/// Runs the source's plugin with its configuration: `secret` (Convoy's
/// `verifier.hmac.secret`) and the `provider_config` entries.
async fn plugin_verdict(
    state: &AppState,
    source: &Source,
    request: PluginRequest,
) -> Result<Verdict, ApiError> {
    let secret = source.verifier.hmac.as_ref().map(|h| h.secret.clone());
    let config = secret
        .filter(|s| !s.is_empty())
        .map(|s| ("secret".to_string(), s))
        .into_iter()
        .chain(source.provider_config.clone())
        .collect();
    match state
        .plugins
        .verify(&source.provider, request, config)
        .await
    {
        Some(Ok(verdict)) => Ok(verdict),
        Some(Err(failure)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            failure.code(),
            "the source's provider plugin failed on this request; the sender may retry",
        )),
        None => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "plugin_unavailable",
            "the source's provider plugin is not loaded; its operator must install it",
        )),
    }
}

/// A plugin's own answer (already checked against the output bounds).
fn plugin_response(response: PluginResponse) -> Response {
    let mut answer = Response::new(axum::body::Body::from(response.body));
    *answer.status_mut() = StatusCode::from_u16(response.status).unwrap_or(StatusCode::OK);
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            answer.headers_mut().append(name, value);
        }
    }
    answer
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
