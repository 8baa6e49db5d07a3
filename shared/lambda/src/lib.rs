//! What nudge's Lambda functions share: their configuration (read once from the environment
//! at cold start), JSON logging, and the wiring of the DynamoDB store, the engine and the
//! EventBridge publisher. Each function's handler lives in its own crate under `functions/`,
//! so a function links only the adapters it uses.
pub mod config;
mod wiring;

pub use config::{
    Config, EumConfig, RulebookSource, SmsProvider, DEFAULT_SEND_MPS, EUM_TIME_TO_LIVE_SECONDS,
};
pub use nudge_aws::sdk_config;
pub use wiring::{dynamo_store, engine, event_publisher, init_logging, reply_engine};
