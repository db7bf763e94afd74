//! Convoy's event body (`{endpoint_id, owner_id, event_type, data, custom_headers,
//! idempotency_key}`): how the REST API source and every broker source take an event, and
//! how the REST API's fanout (`owner_id`) and broadcast (neither) forms take it.

use std::collections::BTreeMap;

use inlet_model::{Event, FieldError, Invalid, RawEncoding, check_event_field};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Convoy's event body, as the REST API and every broker source take it.
#[derive(Debug, Deserialize)]
pub struct EventInput {
    #[serde(default)]
    pub endpoint_id: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub data: Option<Box<RawValue>>,
    #[serde(default)]
    pub custom_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

fn present(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl EventInput {
    /// An event for one endpoint (`endpoint_id`) or for every endpoint of an owner
    /// (`owner_id`): checks the required fields and builds it.
    pub fn into_event(self, project_id: &str) -> Result<Event, Invalid> {
        if present(&self.endpoint_id).is_none() && present(&self.owner_id).is_none() {
            return Err(field_error("endpoint_id", "or owner_id is required"));
        }
        self.build(project_id)
    }

    /// Convoy's fanout: an event for every endpoint of `owner_id`.
    pub fn into_fanout(self, project_id: &str) -> Result<Event, Invalid> {
        if present(&self.owner_id).is_none() {
            return Err(field_error(
                "owner_id",
                "is required: the fanout goes to every endpoint of this owner",
            ));
        }
        if present(&self.endpoint_id).is_some() {
            return Err(field_error(
                "endpoint_id",
                "is not taken by a fanout, which goes to every endpoint of owner_id; \
                 POST …/events addresses one endpoint",
            ));
        }
        self.build(project_id)
    }

    /// Convoy's broadcast: an event for every subscription of the project that matches it.
    pub fn into_broadcast(self, project_id: &str) -> Result<Event, Invalid> {
        for (field, value) in [
            ("endpoint_id", &self.endpoint_id),
            ("owner_id", &self.owner_id),
        ] {
            if present(value).is_some() {
                return Err(field_error(
                    field,
                    "is not taken by a broadcast, which goes to every subscription; \
                     POST …/events or …/events/fanout address endpoints",
                ));
            }
        }
        self.build(project_id)
    }

    /// Checks the fields every form requires and builds the event.
    fn build(self, project_id: &str) -> Result<Event, Invalid> {
        let endpoint_id = present(&self.endpoint_id);
        let owner_id = present(&self.owner_id);
        let event_type =
            present(&self.event_type).ok_or_else(|| field_error("event_type", "is required"))?;
        let idempotency_key = self.idempotency_key.unwrap_or_default();
        check_event_field("event_type", &event_type)?;
        check_event_field("idempotency_key", &idempotency_key)?;
        let data = self
            .data
            .ok_or_else(|| field_error("data", "is required (any JSON value)"))?;
        Ok(Event {
            uid: String::new(),
            event_type,
            project_id: project_id.to_string(),
            source_id: String::new(),
            endpoint_id,
            owner_id,
            headers: self
                .custom_headers
                .into_iter()
                .map(|(k, v)| (k, vec![v]))
                .collect(),
            url_query_params: String::new(),
            url_path: String::new(),
            idempotency_key,
            is_duplicate_event: false,
            is_meta_event: false,
            // `raw` is the text of `data`: kept once, as the store keeps it (`append_event`
            // and reads restore it).
            raw: String::new(),
            raw_encoding: RawEncoding::Data,
            data,
            broker: None,
            created_at: String::new(),
        })
    }
}

fn field_error(field: &str, message: &str) -> Invalid {
    FieldError::new(field, message).into()
}

/// Parses Convoy's event body and builds the event of a project.
pub fn parse_event(bytes: &[u8], project_id: &str) -> Result<Event, Invalid> {
    crate::json::parse::<EventInput>(bytes)?.into_event(project_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> EventInput {
        crate::json::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn each_form_takes_its_own_address() {
        let body = r#""event_type": "t", "data": {}"#;
        let endpoint = format!(r#"{{"endpoint_id": "e", {body}}}"#);
        let owner = format!(r#"{{"owner_id": "o", {body}}}"#);
        let neither = format!("{{{body}}}");

        assert!(input(&endpoint).into_event("p").is_ok());
        assert!(input(&owner).into_event("p").is_ok());
        assert!(
            input(&neither)
                .into_event("p")
                .unwrap_err()
                .message
                .starts_with("endpoint_id")
        );

        let fanout = input(&owner).into_fanout("p").unwrap();
        assert_eq!(fanout.owner_id.as_deref(), Some("o"));
        assert!(
            input(&neither)
                .into_fanout("p")
                .unwrap_err()
                .message
                .starts_with("owner_id")
        );
        assert!(
            input(&endpoint)
                .into_fanout("p")
                .unwrap_err()
                .message
                .starts_with("owner_id")
        );

        let broadcast = input(&neither).into_broadcast("p").unwrap();
        assert_eq!((broadcast.endpoint_id, broadcast.owner_id), (None, None));
        assert!(
            input(&endpoint)
                .into_broadcast("p")
                .unwrap_err()
                .message
                .starts_with("endpoint_id")
        );
        assert!(
            input(&owner)
                .into_broadcast("p")
                .unwrap_err()
                .message
                .starts_with("owner_id")
        );
    }
}
