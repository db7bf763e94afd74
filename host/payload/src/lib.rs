//! What a request body or broker message becomes: Convoy's event body (the REST API source
//! and every broker source parse it here), a webhook body's `data` and `raw` (JSON, form,
//! multipart, binary), and the request locations a source reads event types and idempotency
//! keys from. Parsing only: errors are [`inlet_model::Invalid`], which each caller answers
//! in its own way (a 400, a dead letter).

mod body;
mod event_body;
pub mod json;
mod location;

pub use body::Payload;
pub use event_body::{EventInput, parse_event};
pub use location::{LazyJson, Location, idempotency_key};
