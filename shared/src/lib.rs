//! nudge-core: everything in nudge that is not wiring.
//!
//! - [`domain`]: customers, events, messages, timers and their newtypes.
//! - [`rulebook`]: the per-tenant YAML rulebook, validated and compiled.
//! - [`schedule`]: triggers → due instants (pure functions).
//! - [`policy`]: consent, windows, caps, content (pure functions).
//! - [`reply`]: inbound text normalisation and classification.
//! - [`ports`] and [`adapters`]: storage, SMS, events, clock.
//! - [`service`]: the use cases, generic over the ports.
//! - [`http`]: the HTTP API (axum router) over the services.
pub mod domain;
pub mod error;
pub mod http;
pub mod lambda;
pub mod policy;
pub mod ports;
pub mod reply;
pub mod rulebook;
pub mod schedule;

pub use error::{Error, Result};
pub mod adapters;
pub mod service;
