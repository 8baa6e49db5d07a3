//! Lambda `nudge-evaluate`: every minute (EventBridge schedule) decide the due timers, then
//! send queued retries whose backoff elapsed. Configuration: see `nudge_core::lambda::config`.
use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, LambdaEvent};
use nudge_core::adapters::dynamodb::DynamoStore;
use nudge_core::lambda::{engine_and_outbox, handle_schedule, sdk_config, Config, SendBudget};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await?;
    let store = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        config.table_name.clone(),
    ));
    let (engine, outbox) = engine_and_outbox(&sdk, &config, store)?;
    let budget = SendBudget::new(config.send_mps);
    let (engine, sweep) = (&engine, config.retry_sweep.then_some((&outbox, &budget)));
    run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent<serde_json::Value>>| async move {
            handle_schedule(engine, sweep, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
