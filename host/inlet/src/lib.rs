//! Inlet: a webhook and event ingest runtime. This crate is the `inlet` binary's: its
//! settings ([`config`]), and the server that wires the other crates together
//! ([`server`]). The path of an event runs through the crates below it: intake
//! (`inlet-intake`, `inlet-brokers`) → verify (`inlet-verify`, `inlet-plugin-host`) → store
//! (`inlet-store`) → acknowledge. See `docs/ARCHITECTURE.md`.

/// mimalloc instead of glibc's malloc: under load glibc's arenas were contended between the
/// runtime's workers, the store's writer and librdkafka's threads (~13% of all CPU in
/// malloc/free); measured before and after in benches/README.md ("Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod config;
mod routes;
mod serve;
pub mod server;
