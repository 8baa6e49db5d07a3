//! Lambda `nudge-ingest`: the HTTP API (customers, events, preview, messages, stats, reports,
//! inbound SMS webhooks) behind API Gateway HTTP API, payload format 2.0. Configuration: see
//! `nudge_lambda::config` and `nudge_ingest`.
use nudge_http::{router, AppState};
use nudge_ingest::{api_gateway_app, http_config_from_env};
use nudge_lambda::{dynamo_store, event_publisher, init_logging, reply_engine, sdk_config, Config};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_logging();
    let config = Config::from_env()?;
    let http = http_config_from_env()?;
    let sdk = sdk_config().await?;
    let engine = reply_engine(&sdk, &config, dynamo_store(&sdk, &config))?;
    let publisher = Arc::new(event_publisher(&sdk, &config));
    let app = router(AppState::new(engine, http, publisher));
    lambda_http::run(api_gateway_app(app)).await
}
