//! `POST|GET /ingest/{mask_id}`: the public URL of an HTTP source. Intake → verify → store →
//! acknowledge: the 200 is sent only after the event is on disk. A source with a `provider`
//! is verified by that plugin, which may also answer the request itself (handshakes).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use inlet_metrics::OTHER;
use inlet_model::{Event, Invalid, REDACTED, Source, check_event_field};
use inlet_payload::{LazyJson, Payload, idempotency_key};
use inlet_plugin_host::{Call, PluginFailure, Request as PluginRequest, Verdict};
use inlet_verify::VerifyError;
use inlet_web::{ApiError, ApiPath, done};

use crate::Intake;
use crate::sources::{Check, LiveSource};

pub async fn ingest(
    State(state): State<Arc<Intake>>,
    ApiPath(mask_id): ApiPath<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some(live) = state.sources.get(&state.store, &mask_id)? else {
        state.metrics.rejected(OTHER, "source_not_found");
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "source_not_found",
            "no source has this ingest URL",
        ));
    };
    let source = &live.source;
    match accept(&state, &live, &method, &uri, &headers, body).await {
        Ok(Outcome::Stored(event)) => {
            state.metrics.accepted(&source.uid, 1);
            tracing::debug!(source = %source.uid, event = %event.uid, duplicate = event.is_duplicate_event, "event accepted");
            Ok(acknowledgement(source))
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
    state: &Intake,
    live: &LiveSource,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<Outcome, ApiError> {
    let source = &live.source;
    if source.is_disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "source_disabled",
            "this source is disabled",
        ));
    }
    let limit = source
        .max_payload_bytes
        .map_or(state.max_body_bytes, |l| l.min(state.max_body_bytes));
    // Held until the event is stored: the body's bytes are in memory that long.
    let (body, _room) = state
        .body_budget
        .read(headers, body, limit, state.body_timeout)
        .await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (found_event_type, found_idempotency_key) = match &live.check {
        Check::Native(verifier) => {
            if method != Method::POST {
                return Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "send events with POST; GET is for provider handshakes",
                ));
            }
            verifier
                .as_ref()
                .ok_or(VerifyError::Misconfigured)
                .and_then(|verifier| verifier.verify(headers, &body, now))
                .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, e.code(), e.message()))?;
            (None, None)
        }
        Check::Plugin { config } => {
            let query = uri.query().unwrap_or("");
            let url = match query {
                "" => format!("{}{}", state.public_url, uri.path()),
                query => format!("{}{}?{query}", state.public_url, uri.path()),
            };
            let request = PluginRequest {
                method: method.to_string(),
                url,
                path: uri.path().to_string(),
                query: query.to_string(),
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
            let mut config = config.clone();
            config.state = state.store.plugin_state(&source.uid)?;
            let verdict = state
                .plugins
                .verify(&source.provider, Call { request, config })
                .await
                .map_err(plugin_failed)?;
            match verdict {
                Verdict::Accept {
                    event_type,
                    idempotency_key,
                } => (event_type, idempotency_key),
                Verdict::Respond {
                    response,
                    state: kept,
                } => {
                    // Kept before the answer: the provider may sign the next request with it.
                    if let Some(kept) = kept {
                        state.store.set_plugin_state(source, &kept).await?;
                    }
                    return Ok(Outcome::Answered(response.map(Body::from)));
                }
                Verdict::Reject(reason) => {
                    tracing::debug!(source = %source.uid, plugin = %source.provider, %reason, "plugin rejected a request");
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "plugin_rejected",
                        "the request failed the provider's verification",
                    ));
                }
            }
        }
    };

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let payload = Payload::from_body(content_type, body).await?;
    let query = uri.query().unwrap_or("");
    let data = LazyJson::new(&payload.data);
    let event_type = found_event_type
        .or_else(|| {
            let location = live.event_type_location.as_ref()?;
            location.read(headers, query, &data)
        })
        .unwrap_or_else(|| source.mask_id.clone());
    let idempotency_key = found_idempotency_key
        .unwrap_or_else(|| idempotency_key(&live.idempotency_keys, headers, query, &data));
    drop(data);
    check_event_field("event_type", &event_type).map_err(Invalid::from)?;
    check_event_field("idempotency_key", &idempotency_key).map_err(Invalid::from)?;

    let event = Event {
        uid: String::new(),
        event_type,
        project_id: source.project_id.clone(),
        source_id: source.uid.clone(),
        endpoint_id: None,
        owner_id: None,
        headers: stored_headers(headers, &credential_headers(state, source)),
        url_query_params: query.to_string(),
        url_path: uri.path().to_string(),
        idempotency_key,
        is_duplicate_event: false,
        is_meta_event: false,
        data: payload.data,
        raw: payload.raw,
        raw_encoding: payload.raw_encoding,
        broker: None,
        created_at: String::new(),
    };
    let stored = state.store.append_event(event).await?;
    Ok(Outcome::Stored(stored))
}

/// A plugin that produced no verdict fails its request only, with a status that tells the
/// sender to retry: 503 while the plugin is saturated, 500 otherwise.
fn plugin_failed(failure: PluginFailure) -> ApiError {
    let (status, message) = match failure {
        PluginFailure::NotLoaded => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the source's provider plugin is not loaded; its operator must install it",
        ),
        PluginFailure::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the source's provider plugin is busy; retry shortly",
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the source's provider plugin failed on this request; the sender may retry",
        ),
    };
    ApiError::new(status, failure.code(), message)
}

/// Headers that carry credentials whatever the source's verifier: a plugin source (or one
/// that verifies a signature) may still be sent them, and an event must not keep them.
const CREDENTIAL_HEADERS: [HeaderName; 3] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
];

/// The source's own credential headers: its verifier's (API key, Basic Auth) or those its
/// provider plugin declares.
fn credential_headers<'a>(state: &'a Intake, source: &'a Source) -> Vec<&'a str> {
    let declared = state.plugins.get(&source.provider).into_iter();
    source
        .verifier
        .credential_header()
        .into_iter()
        .chain(declared.flat_map(|p| p.credential_headers.iter().map(String::as_str)))
        .collect()
}

/// Request headers by lower-case name, with credential headers (the source's and
/// [`CREDENTIAL_HEADERS`]) redacted.
fn stored_headers(headers: &HeaderMap, credential: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let shown = if CREDENTIAL_HEADERS.contains(name)
            || credential
                .iter()
                .any(|c| name.as_str().eq_ignore_ascii_case(c))
        {
            REDACTED.to_string()
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
        None => done(StatusCode::OK, "Event received"),
    }
}
