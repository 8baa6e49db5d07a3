//! nudge-core: the engine, with no I/O of its own. It builds without SQLite, axum, Lambda or
//! any AWS SDK; the adapters (`nudge-sqlite`, `nudge-dynamodb`, `nudge-sns`,
//! `nudge-eventbridge`, `nudge-local`) and the edges (`nudge-http`, the functions, the CLI)
//! depend on it, never the reverse.
//!
//! - [`domain`]: customers, events, messages, timers and their newtypes.
//! - [`rulebook`]: the per-tenant YAML rulebook, validated and compiled.
//! - [`schedule`]: triggers → due instants (pure functions).
//! - [`policy`]: consent, windows, caps, content (pure functions).
//! - [`reply`]: inbound text normalisation and classification.
//! - [`ports`]: the traits the services are generic over; [`clock`]: the clocks.
//! - [`service`]: the use cases, generic over the ports.
pub mod clock;
pub mod domain;
pub mod error;
pub mod policy;
pub mod ports;
pub mod reply;
pub mod rulebook;
pub mod schedule;
pub mod service;

pub use error::{Error, Result};
