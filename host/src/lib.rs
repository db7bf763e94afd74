//! Inlet: a webhook and event ingest runtime.
//!
//! Data flows one way: intake (HTTP ingest, REST API, brokers) → verify → store → acknowledge.
//! See `docs/ARCHITECTURE.md` for the map of modules and where each guarantee is enforced.

pub mod api;
pub mod auth;
pub mod broker;
pub mod config;
pub mod error;
pub mod intake;
pub mod metrics;
pub mod model;
pub mod plugin;
pub mod request;
pub mod secret;
pub mod server;
pub mod store;
pub mod verify;
