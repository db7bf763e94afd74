//! How one delivery attempt is made, as parts that need nothing of the store: its request
//! (`request`: headers and body), how it is signed (`signature`), how it is sent (`send`:
//! the pooled client, timeouts, bounded answers; `kafka`: a message on a `kafka`
//! endpoint's topic), when a failed delivery is tried again
//! (`retry`), and where Inlet may connect (`connect`). Which events go where is `inlet-route`'s; the
//! worker that takes due deliveries from the store is `inlet-dispatch`.

pub mod connect;
pub mod kafka;
pub mod request;
pub mod retry;
pub mod send;
pub mod signature;
