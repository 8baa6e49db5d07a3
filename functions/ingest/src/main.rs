//! Lambda `nudge-ingest`: the HTTP API (customers, events, preview, stats) behind API Gateway
//! HTTP API, payload format 2.0. Configuration: see `nudge_core::lambda::config` and
//! `nudge_core::lambda::ingest`.
use nudge_core::adapters::dynamodb::DynamoStore;
use nudge_core::http::{router, AppState};
use nudge_core::lambda::{api_gateway_app, engine, http_config_from_env, sdk_config, Config};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tracing_subscriber::fmt()
        .json()
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config::from_env()?;
    let http = http_config_from_env()?;
    let sdk = sdk_config().await?;
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.table_name.clone(),
    ));
    let app = router(AppState::new(engine(&config, store)?, http));
    lambda_http::run(api_gateway_app(app)).await
}
