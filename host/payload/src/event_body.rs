//! Convoy's event body (`{endpoint_id, owner_id, event_type, data, custom_headers,
//! idempotency_key}`): how the REST API source and every broker source take an event.

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

impl EventInput {
    /// Checks the required fields and builds the event.
    pub fn into_event(self, project_id: &str) -> Result<Event, Invalid> {
        let present = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let endpoint_id = present(self.endpoint_id);
        let owner_id = present(self.owner_id);
        if endpoint_id.is_none() && owner_id.is_none() {
            return Err(missing("endpoint_id", "or owner_id is required"));
        }
        let event_type =
            present(self.event_type).ok_or_else(|| missing("event_type", "is required"))?;
        let idempotency_key = self.idempotency_key.unwrap_or_default();
        check_event_field("event_type", &event_type)?;
        check_event_field("idempotency_key", &idempotency_key)?;
        let data = self
            .data
            .ok_or_else(|| missing("data", "is required (any JSON value)"))?;
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

fn missing(field: &str, message: &str) -> Invalid {
    FieldError::new(field, message).into()
}

/// Parses Convoy's event body and builds the event of a project.
pub fn parse_event(bytes: &[u8], project_id: &str) -> Result<Event, Invalid> {
    crate::json::parse::<EventInput>(bytes)?.into_event(project_id)
}
