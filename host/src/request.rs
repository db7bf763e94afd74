//! Reading request bodies within a limit, and parsing JSON bodies into clear 400s.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

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
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
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

/// Parses a JSON body; the 400 names the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Tracking the path slows every parse down; only a body that fails is parsed again
    // with it, to name the field.
    serde_json::from_slice(bytes).map_err(|error| invalid_json::<T>(bytes, error))
}

fn invalid_json<T: DeserializeOwned>(bytes: &[u8], error: serde_json::Error) -> ApiError {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let message = match serde_path_to_error::deserialize::<_, T>(de) {
        Err(e) if !(e.inner().is_syntax() || e.inner().is_eof() || e.path().to_string() == ".") => {
            format!("{}: {}", e.path(), e.inner())
        }
        // A syntax error, or trailing characters after a valid body.
        _ => format!("the body is not valid JSON: {error}"),
    };
    ApiError::bad_request("invalid_json", message)
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
    parse_json(&bytes)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Order {
        #[allow(dead_code)]
        count: u32,
    }

    fn error(body: &str) -> String {
        let e = parse_json::<Order>(body.as_bytes()).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "invalid_json")
        );
        e.message
    }

    #[test]
    fn json_errors_name_the_field_or_the_syntax() {
        assert_eq!(parse_json::<Order>(b" {\"count\": 3} ").unwrap().count, 3);
        assert!(error("{\"count\": -1}").starts_with("count: invalid value"));
        assert!(error("{\"count\": ").starts_with("the body is not valid JSON: EOF"));
        assert!(error("{}").starts_with("the body is not valid JSON: missing field `count`"));
        assert_eq!(
            error("{\"count\": 3} {}"),
            "the body is not valid JSON: trailing characters at line 1 column 14"
        );
    }
}
