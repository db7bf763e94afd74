//! Reading request bodies within a limit and time, JSON bodies with clear 400s, and path
//! parameters whose errors are JSON too.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ApiError;

/// Reads the whole body, refusing with 413 anything over `limit` bytes: at once when the
/// declared Content-Length is too large, otherwise as soon as the limit is crossed (chunked
/// bodies), so never more than `limit` bytes are held. A body that has not arrived within
/// `timeout` gets 408, so a stalled client cannot hold a request slot forever.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    timeout: Duration,
) -> Result<Bytes, ApiError> {
    let too_large = || too_large(limit);
    if declared_length(headers).is_some_and(|len| len > limit) {
        return Err(too_large());
    }
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect())
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs_f32()
                ),
            )
        })?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(
            "body_read_failed",
            format!("the request body could not be read: {e}"),
        )),
    }
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("the request body is larger than the limit of {limit} bytes"),
    )
}

fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// The bytes of request bodies held at once, across the requests that read them before
/// they are verified (ingest, the REST API): the in-flight limit times the body limit
/// (1024 × 10 MiB by default) would let unauthenticated senders hold gigabytes (review L3).
/// Counted in KiB, so that one reservation fits the semaphore's `u32`.
pub struct BodyBudget {
    kib: Arc<Semaphore>,
}

/// Longest wait for room in the [`BodyBudget`]; past it the request gets 503.
const BODY_BUDGET_WAIT: Duration = Duration::from_secs(1);

impl BodyBudget {
    pub fn new(bytes: u64) -> Self {
        let kib = usize::try_from(bytes.div_ceil(1024)).unwrap_or(Semaphore::MAX_PERMITS);
        Self {
            kib: Arc::new(Semaphore::new(kib.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Reads a body like [`read_body`], after reserving room for all it may send: its
    /// Content-Length, else `limit`. The room is held until the returned permit is
    /// dropped, so keep it until the body's bytes are gone (the response is made). When no
    /// room comes free within [`BODY_BUDGET_WAIT`], the answer is 503
    /// `too_many_bytes_in_flight`, before any of the body is read.
    pub async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: u64,
        timeout: Duration,
    ) -> Result<(Bytes, OwnedSemaphorePermit), ApiError> {
        let declared = declared_length(headers);
        if declared.is_some_and(|len| len > limit) {
            return Err(too_large(limit));
        }
        let kib = u32::try_from(declared.unwrap_or(limit).div_ceil(1024)).unwrap_or(u32::MAX);
        let room = tokio::time::timeout(BODY_BUDGET_WAIT, self.kib.clone().acquire_many_owned(kib));
        let permit = match room.await {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "too_many_bytes_in_flight",
                    "Inlet holds as many request bodies as it takes at once; retry shortly",
                ));
            }
        };
        Ok((read_body(headers, body, limit, timeout).await?, permit))
    }
}

/// Refuses with 415 a body that declares a content type other than JSON.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match headers.get(header::CONTENT_TYPE).map(|v| v.to_str()) {
        None => Ok(()),
        Some(Ok(ct)) if is_json(ct) => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`",
        )),
    }
}

pub fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.to_ascii_lowercase().ends_with("+json")
}

/// JSON request body: checked content type, bounded size and time, parsed.
pub async fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
    timeout: Duration,
) -> Result<T, ApiError> {
    require_json(headers)?;
    let bytes = read_body(headers, body, limit, timeout).await?;
    Ok(inlet_payload::json::parse(&bytes)?)
}

/// Path parameters whose rejection (e.g. invalid UTF-8 in a percent-encoded segment) is a
/// JSON `invalid_path` error like every other error, not axum's plain text.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(rejection) => Err(ApiError::bad_request("invalid_path", rejection.body_text())),
        }
    }
}
