//! Meta events: what happened to a project's deliveries (an endpoint disabled, a circuit
//! opened, a delivery failed for good), stored as events of the project addressed to the
//! endpoint its `config.meta_event` names, and delivered like any event.

use inlet_model::delivery::{Delivery, Endpoint, EndpointHealth};
use inlet_model::{Event, Project, RawEncoding};
use serde_json::json;

/// One meta event, before it is stored.
pub(crate) enum MetaEvent<'a> {
    EndpointDisabled(&'a Endpoint),
    CircuitOpened {
        endpoint: &'a Endpoint,
        health: &'a EndpointHealth,
        error_timeout: u64,
    },
    DeliveryFailed(&'a Delivery),
}

impl MetaEvent<'_> {
    fn kind(&self) -> &'static str {
        match self {
            MetaEvent::EndpointDisabled(_) => "endpoint.disabled",
            MetaEvent::CircuitOpened { .. } => "endpoint.circuit_opened",
            MetaEvent::DeliveryFailed(_) => "eventdelivery.failed",
        }
    }

    fn data(&self) -> serde_json::Value {
        match self {
            MetaEvent::EndpointDisabled(endpoint) => json!({
                "endpoint_id": endpoint.uid, "name": endpoint.name, "url": endpoint.url,
                "status": endpoint.status,
                "reason": "a delivery failed with no retry left, and the project disables such endpoints",
            }),
            MetaEvent::CircuitOpened {
                endpoint,
                health,
                error_timeout,
            } => json!({
                "endpoint_id": endpoint.uid, "name": endpoint.name, "url": endpoint.url,
                "cb_state": health.cb_state,
                "consecutive_failures": health.consecutive_failures,
                "failure_rate": health.failure_rate(),
                "error_timeout": error_timeout,
            }),
            MetaEvent::DeliveryFailed(delivery) => json!({
                "delivery_id": delivery.uid, "event_id": delivery.event_id,
                "endpoint_id": delivery.endpoint_id, "event_type": delivery.event_type,
                "num_trials": delivery.metadata.num_trials,
                "description": delivery.description,
            }),
        }
    }

    /// The event to store, when the project asks for meta events of this type.
    pub fn event(&self, project: &Project) -> Option<Event> {
        let config = project.config.meta_event.as_ref()?;
        let kind = self.kind();
        let wanted = config.event_type.is_empty() || config.event_type.iter().any(|t| t == kind);
        if !config.is_enabled || !wanted {
            return None;
        }
        let data = json!({"event_type": kind, "data": self.data()});
        Some(Event {
            uid: String::new(),
            event_type: kind.to_string(),
            project_id: project.uid.clone(),
            source_id: String::new(),
            endpoint_id: Some(config.endpoint_id.clone()),
            owner_id: None,
            headers: Default::default(),
            url_query_params: String::new(),
            url_path: String::new(),
            idempotency_key: String::new(),
            is_duplicate_event: false,
            is_meta_event: true,
            // Plain JSON of strings and numbers: it serializes.
            data: serde_json::value::to_raw_value(&data).ok()?,
            raw: String::new(),
            raw_encoding: RawEncoding::Data,
            broker: None,
            created_at: String::new(),
        })
    }
}
