//! Event intake: the public HTTP ingest URL ([`http`]) and the REST API source ([`rest`]).
//! Both build an [`Event`](crate::model::Event) and hand it to the store; they answer only
//! once the store has it on disk.

pub mod http;
mod payload;
pub mod rest;

pub use payload::{Location, Payload};
