//! Request locations (`request.header.X`, `request.query.X`, `request.body.a.b`): where a
//! source reads its events' idempotency keys and event types from.

use http::HeaderMap;
use serde_json::Value;
use serde_json::value::RawValue;

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

/// The idempotency key a source's locations make of a request. With one location it is the
/// value found there (as keys were before several locations were encoded). With several,
/// it is the JSON array of their values, `null` where a value is absent (`["x",null]`), so
/// that "A is x, no id" and "no A, id is x" are different keys (review L4). When no value
/// is found, there is no key (`""`).
pub fn idempotency_key(
    locations: &[Location],
    headers: &HeaderMap,
    query: &str,
    data: &LazyJson,
) -> String {
    let values: Vec<Option<String>> = locations
        .iter()
        .map(|l| l.read(headers, query, data))
        .collect();
    match values.as_slice() {
        [one] => one.clone().unwrap_or_default(),
        _ if values.iter().all(Option::is_none) => String::new(),
        _ => serde_json::to_string(&values).expect("a list of strings serializes"),
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
        let key = |locations: &[&str]| {
            let locations: Vec<_> = locations
                .iter()
                .map(|l| Location::parse(l).unwrap())
                .collect();
            idempotency_key(&locations, &headers, "k=evt_1", &data)
        };
        assert_eq!(key(&["request.body.id"]), "evt_1");
        assert_eq!(key(&["request.body.missing"]), "");
        assert_eq!(
            key(&["request.header.X-Request-Id", "request.body.id"]),
            r#"["req-9","evt_1"]"#
        );
        // The same value at another place of the list is another key.
        assert_eq!(
            key(&["request.body.id", "request.header.X-Missing"]),
            r#"["evt_1",null]"#
        );
        assert_eq!(
            key(&["request.header.X-Missing", "request.query.k"]),
            r#"[null,"evt_1"]"#
        );
        assert_eq!(
            key(&["request.header.X-Missing", "request.body.missing"]),
            ""
        );
        for bad in [
            "request.header.",
            "header.X",
            "request.cookie.x",
            "request.body.a..b",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }
}
