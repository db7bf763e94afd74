//! End-to-end tests over real HTTP on loopback, with RocksDB on disk.

mod admin;
mod durability;
mod events;
mod full_disk;
mod ingest;
mod kafka;
mod limits;
mod metrics;
mod outbound;
mod plugins;
mod pubsub;
mod rest;
mod robustness;
mod sqs;
mod twitter_oracle;
mod verification;
