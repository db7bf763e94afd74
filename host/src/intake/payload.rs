//! What a request body becomes in an event (`data` as JSON, `raw` as received), and the
//! request locations (`request.header.X`, `request.query.X`, `request.body.a.b`) that
//! idempotency keys and event types are read from.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::HeaderMap;
use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::model::RawEncoding;

pub struct Payload {
    pub data: Box<RawValue>,
    pub raw: String,
    pub raw_encoding: RawEncoding,
}

impl Payload {
    /// Reads a body by its content type: form and multipart bodies become a JSON object of
    /// their fields; any other body is `data` when it parses as JSON, else `data` is null.
    pub async fn from_body(content_type: Option<&str>, body: Bytes) -> Result<Self, ApiError> {
        let essence = content_type
            .and_then(|ct| ct.split(';').next())
            .map(|e| e.trim().to_ascii_lowercase());
        let data = if body.is_empty() {
            RawValue::from_string("{}".into()).expect("{} is JSON")
        } else {
            match essence.as_deref() {
                Some("application/x-www-form-urlencoded") => raw(form_fields(&body)),
                Some("multipart/form-data") => {
                    raw(multipart_fields(content_type.unwrap_or(""), body.clone()).await?)
                }
                _ => serde_json::from_slice::<Box<RawValue>>(&body)
                    .unwrap_or_else(|_| raw(Value::Null)),
            }
        };
        let (raw_text, raw_encoding) = RawEncoding::encode(&body);
        Ok(Self {
            data,
            raw: raw_text,
            raw_encoding,
        })
    }
}

fn raw(value: Value) -> Box<RawValue> {
    to_raw_value(&value).expect("a JSON value always serializes")
}

/// Adds a field; a repeated name collects its values in an array.
fn insert_field(fields: &mut Map<String, Value>, name: String, value: Value) {
    match fields.get_mut(&name) {
        None => {
            fields.insert(name, value);
        }
        Some(Value::Array(values)) => values.push(value),
        Some(first) => *first = Value::Array(vec![first.take(), value]),
    }
}

fn form_fields(body: &[u8]) -> Value {
    let mut fields = Map::new();
    for (name, value) in form_urlencoded::parse(body) {
        insert_field(
            &mut fields,
            name.into_owned(),
            Value::String(value.into_owned()),
        );
    }
    Value::Object(fields)
}

/// Text fields become strings; file parts become `{filename, content_type, size}` with the
/// content as `content` (UTF-8) or `content_base64`.
async fn multipart_fields(content_type: &str, body: Bytes) -> Result<Value, ApiError> {
    let invalid = |e: multer::Error| {
        ApiError::bad_request("invalid_multipart", format!("multipart body: {e}"))
    };
    let boundary = multer::parse_boundary(content_type).map_err(invalid)?;
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut fields = Map::new();
    while let Some(field) = multipart.next_field().await.map_err(invalid)? {
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let part_type = field.content_type().map(|m| m.to_string());
        let bytes = field.bytes().await.map_err(invalid)?;
        let value = match (filename, std::str::from_utf8(&bytes)) {
            (None, Ok(text)) => Value::String(text.to_string()),
            (filename, text) => {
                let mut file = Map::new();
                file.insert("filename".into(), filename.into());
                file.insert("content_type".into(), part_type.into());
                file.insert("size".into(), bytes.len().into());
                match text {
                    Ok(text) => file.insert("content".into(), text.into()),
                    Err(_) => file.insert("content_base64".into(), BASE64.encode(&bytes).into()),
                };
                Value::Object(file)
            }
        };
        insert_field(&mut fields, name, value);
    }
    Ok(Value::Object(fields))
}

/// Where in a request a value is read from.
#[derive(Debug, PartialEq, Eq)]
pub enum Location {
    Header(String),
    Query(String),
    Body(Vec<String>),
}

impl Location {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not a location; use request.header.<Name>, request.query.<name> \
                 or request.body.<path.to.field>"
            )
        };
        let (kind, rest) = text
            .strip_prefix("request.")
            .and_then(|r| r.split_once('.'))
            .filter(|(_, rest)| !rest.is_empty())
            .ok_or_else(bad)?;
        match kind {
            "header" => http::HeaderName::from_bytes(rest.as_bytes())
                .map(|_| Location::Header(rest.to_string()))
                .map_err(|_| bad()),
            "query" => Ok(Location::Query(rest.to_string())),
            "body" if rest.split('.').all(|s| !s.is_empty()) => Ok(Location::Body(
                rest.split('.').map(str::to_string).collect(),
            )),
            _ => Err(bad()),
        }
    }

    /// The value at this location, as text; `None` when absent or null.
    pub fn read(&self, headers: &HeaderMap, query: &str, data: &LazyJson) -> Option<String> {
        match self {
            Location::Header(name) => headers
                .get(name.as_str())
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            Location::Query(name) => form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned()),
            Location::Body(path) => {
                let mut value = data.get()?;
                for segment in path {
                    value = match value {
                        Value::Object(map) => map.get(segment)?,
                        Value::Array(items) => items.get(segment.parse::<usize>().ok()?)?,
                        _ => return None,
                    };
                }
                match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                }
            }
        }
    }
}

/// The event's `data`, parsed into a tree only if a body location asks for it.
pub struct LazyJson<'a> {
    raw: &'a RawValue,
    parsed: std::sync::OnceLock<Option<Value>>,
}

impl<'a> LazyJson<'a> {
    pub fn new(raw: &'a RawValue) -> Self {
        Self {
            raw,
            parsed: std::sync::OnceLock::new(),
        }
    }

    fn get(&self) -> Option<&Value> {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.raw.get()).ok())
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_read() {
        let body = RawValue::from_string(r#"{"a":{"b":[{"c":7}]},"id":"evt_1"}"#.into()).unwrap();
        let data = LazyJson::new(&body);
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "req-9".parse().unwrap());
        let read = |l: &str| {
            Location::parse(l)
                .unwrap()
                .read(&headers, "k=v&t=x%20y", &data)
        };
        assert_eq!(
            read("request.header.X-Request-Id").as_deref(),
            Some("req-9")
        );
        assert_eq!(read("request.query.t").as_deref(), Some("x y"));
        assert_eq!(read("request.body.id").as_deref(), Some("evt_1"));
        assert_eq!(read("request.body.a.b.0.c").as_deref(), Some("7"));
        assert_eq!(read("request.body.missing"), None);
        for bad in [
            "request.header.",
            "header.X",
            "request.cookie.x",
            "request.body.a..b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn form_bodies_become_json_objects() {
        let p = Payload::from_body(
            Some("application/x-www-form-urlencoded"),
            Bytes::from_static(b"a=1&b=two&a=3"),
        )
        .await
        .unwrap();
        assert_eq!(p.data.get(), r#"{"a":["1","3"],"b":"two"}"#);
        assert_eq!(p.raw, "a=1&b=two&a=3");
    }

    #[tokio::test]
    async fn non_json_bodies_keep_raw_bytes() {
        let p = Payload::from_body(
            Some("application/octet-stream"),
            Bytes::from_static(&[0xff, 0]),
        )
        .await
        .unwrap();
        assert_eq!(p.data.get(), "null");
        assert_eq!(p.raw_encoding, RawEncoding::Base64);
        assert_eq!(p.raw, "/wA=");
    }
}
