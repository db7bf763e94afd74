//! Inlet: a webhook and event ingest runtime. This crate is the `inlet` binary's: its
//! settings ([`config`]), and the server that wires the other crates together
//! ([`server`]). The path of an event runs through the crates below it: intake
//! (`inlet-intake`, `inlet-brokers`) → verify (`inlet-verify`, `inlet-plugin-host`) → store
//! (`inlet-store`) → acknowledge. See `docs/ARCHITECTURE.md`.

pub mod config;
mod routes;
mod serve;
pub mod server;
