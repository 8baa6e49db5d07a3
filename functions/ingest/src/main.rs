//! Lambda `nudge-ingest`: the HTTP API (customers, events, preview, messages, stats, reports,
//! inbound SMS webhooks) behind API Gateway HTTP API, payload format 2.0. Configuration: see
//! `nudge_core::lambda::config` and `nudge_core::lambda::ingest`.
use nudge_core::http::{router, AppState};
use nudge_core::lambda::{
    api_gateway_app, dynamo_store, engine, event_publisher, http_config_from_env, init_logging,
    sdk_config, Config,
};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let config = Config::from_env()?;
    let http = http_config_from_env()?;
    let sdk = sdk_config().await?;
    let engine = engine(&config, dynamo_store(&sdk, &config))?;
    let publisher = Arc::new(event_publisher(&sdk, &config));
    let app = router(AppState::new(engine, http, publisher));
    lambda_http::run(api_gateway_app(app)).await
}
