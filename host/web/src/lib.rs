//! The HTTP plumbing every Inlet route shares: [`ApiError`] (a stable `code`, the right
//! status, a message that says what to do), Convoy's response envelope, list pages, and
//! request bodies read within their limits. Every answer is serialized here, straight from
//! its types (never through `serde_json::Value`, so stored `RawValue`s pass through as they
//! are).

mod body;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use inlet_model::Invalid;
use inlet_store::StoreError;
use serde::Serialize;

pub use body::{ApiPath, BodyBudget, is_json, json_body, read_body, require_json};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// A storage failure: nothing was stored, so the client must retry. The code is the
    /// same whatever the cause; the message says whether the disk is full. A write refused
    /// because its project or source is gone is a 404.
    pub fn store(err: StoreError) -> Self {
        if let StoreError::Missing(what) = err {
            return Self::not_found(what);
        }
        let message = if let StoreError::Unwritable(_) = err {
            // The store's writer logs that writes fail when it starts, and once a minute
            // while it lasts: not once per request.
            tracing::debug!(error = %err, "store write refused");
            if err.is_no_space() {
                "the event could not be stored: the store's disk is full; retry later"
            } else {
                "the event could not be stored: the store cannot take writes; retry later"
            }
        } else {
            tracing::error!(error = %err, "store failure");
            "the event could not be stored; retry later"
        };
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            message,
        )
    }
}

impl From<Invalid> for ApiError {
    fn from(invalid: Invalid) -> Self {
        Self::bad_request(invalid.code, invalid.message)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        Self::store(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope::<()> {
            status: false,
            message: &self.message,
            data: None,
            code: Some(self.code),
        };
        let mut response = (self.status, Json(body)).into_response();
        // Both mean "not now": say when to try again.
        if matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            response.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
        }
        response
    }
}

/// Convoy's envelope: `{"status": bool, "message": …, "data": …}`, with `code` on errors.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    status: bool,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
}

/// A success in Convoy's envelope, with `data`.
pub fn ok<T: Serialize>(status: StatusCode, message: &str, data: T) -> Response {
    let body = Envelope {
        status: true,
        message,
        data: Some(data),
        code: None,
    };
    (status, Json(body)).into_response()
}

/// A success in Convoy's envelope without `data` (`{"status": true, "message": …}`).
pub fn done(status: StatusCode, message: &str) -> Response {
    let body = Envelope::<()> {
        status: true,
        message,
        data: None,
        code: None,
    };
    (status, Json(body)).into_response()
}

/// Convoy's list shape: `data.content` and `data.pagination`.
#[derive(Serialize)]
pub struct ListPage<T: Serialize> {
    content: Vec<T>,
    pagination: Pagination,
}

#[derive(Serialize)]
struct Pagination {
    per_page: usize,
    has_next_page: bool,
    next_page_cursor: String,
}

impl<T: Serialize> ListPage<T> {
    /// A page of a paged listing.
    pub fn of(page: inlet_store::Page<T>, per_page: usize) -> Self {
        Self {
            content: page.items,
            pagination: Pagination {
                per_page,
                has_next_page: page.next_cursor.is_some(),
                next_page_cursor: page.next_cursor.unwrap_or_default(),
            },
        }
    }

    /// A list that is never paged (projects, sources).
    pub fn whole(content: Vec<T>) -> Self {
        Self {
            pagination: Pagination {
                per_page: content.len(),
                has_next_page: false,
                next_page_cursor: String::new(),
            },
            content,
        }
    }
}
