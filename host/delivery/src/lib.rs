//! Delivery of stored events to the user's endpoints (issue 17). So far its parts that need
//! nothing of the store: which subscriptions an event matches (`filter`), how a request is
//! signed (`signature`), when a failed delivery is tried again (`retry`), and where Inlet
//! may connect (`connect`).

pub mod connect;
pub mod filter;
pub mod retry;
pub mod signature;
