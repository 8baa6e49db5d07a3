//! The Lambda functions' logic, testable without a runtime: each `functions/*/src/main.rs`
//! only builds clients and calls one handler here.
//!
//! - [`ingest`]: API Gateway HTTP API requests → the HTTP API router ([`crate::http`]).
//! - [`evaluate`]: the EventBridge schedule (`rate(1 minute)`) → [`Engine::tick`](crate::service::Engine).
//! - [`send`]: DynamoDB Streams records of queued messages → the outbox, within a budget.
pub mod config;
pub mod evaluate;
pub mod ingest;
pub mod send;
pub mod wiring;

pub use config::{Config, RulebookSource};
pub use evaluate::{handle_schedule, SweepSummary, TickSummary, SWEEP_LIMIT};
pub use ingest::{api_gateway_app, http_config_from_env, ApiGatewayApp};
pub use send::{handle_stream, SendBudget};
pub use wiring::{engine, engine_and_outbox, sdk_config};
