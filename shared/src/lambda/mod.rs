//! The Lambda functions' logic, testable without a runtime: each `functions/*/src/main.rs`
//! only builds clients and calls one handler here.
//!
//! - [`ingest`]: API Gateway HTTP API requests → the HTTP API router ([`crate::http`]).
//! - [`evaluate`]: the EventBridge schedule (`rate(1 minute)`) → [`Engine::tick`](crate::service::Engine).
//! - [`send`]: DynamoDB Streams records of queued messages → the outbox, within a budget.
//! - [`inbound`]: SNS notifications of two-way SMS → the reply service.
pub mod config;
pub mod evaluate;
pub mod inbound;
pub mod ingest;
pub mod send;
pub mod wiring;

pub use config::{Config, RulebookSource};
pub use evaluate::{handle_schedule, SweepSummary, TickSummary, SWEEP_LIMIT};
pub use inbound::{handle_sns, InboundSummary};
pub use ingest::{api_gateway_app, http_config_from_env, ApiGatewayApp};
pub use send::{handle_stream, SendBudget};
pub use wiring::{
    dynamo_store, engine, engine_and_outbox, event_publisher, init_logging, sdk_config,
};
