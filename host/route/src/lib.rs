//! Which endpoints an event goes to: subscription filters (`filter`, Convoy's language,
//! compiled when a subscription is written) and an event's routes (`routes`), decided before
//! the event is stored so that it is stored with its deliveries.

pub mod filter;
mod routes;

pub use routes::{ProjectRoutes, Route};
