//! What a webhook body becomes in an event: `data` as JSON (the body itself, or the fields of
//! a form or multipart body), `raw` as received.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use inlet_model::{Invalid, RawEncoding};
use serde_json::value::{RawValue, to_raw_value};
use serde_json::{Map, Value};

pub struct Payload {
    pub data: Box<RawValue>,
    pub raw: String,
    pub raw_encoding: RawEncoding,
}

impl Payload {
    /// Reads a body by its content type: form and multipart bodies become a JSON object of
    /// their fields; any other body is `data` when it parses as JSON, else `data` is null.
    pub async fn from_body(content_type: Option<&str>, body: Bytes) -> Result<Self, Invalid> {
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
async fn multipart_fields(content_type: &str, body: Bytes) -> Result<Value, Invalid> {
    let invalid =
        |e: multer::Error| Invalid::new("invalid_multipart", format!("multipart body: {e}"));
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

#[cfg(test)]
mod tests {
    use super::*;

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
