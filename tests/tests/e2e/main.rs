//! End-to-end tests over real HTTP on loopback, with RocksDB on disk.

mod admin;
mod delivery;
mod durability;
mod endpoints;
mod events;
mod full_disk;
mod ingest;
mod kafka;
mod kafka_destination;
mod limits;
mod metrics;
mod operations;
mod outbound;
mod plugins;
mod providers;
mod pubsub;
mod replay;
mod rest;
mod retention;
mod robustness;
mod sqs;
mod subscriptions;
mod twitter_oracle;
mod verification;
