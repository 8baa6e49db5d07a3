//! Lambda `nudge-receipts`: SMS delivery receipts → each text's `delivered` / `undelivered`
//! status, counters and `message.*` events. SNS's delivery-status logs arrive through a
//! CloudWatch Logs subscription, EUM's SMS events through an SQS queue; one function serves
//! both, telling them apart by shape. Configuration: see `nudge_lambda::config`.
use lambda_runtime::{run, service_fn, LambdaEvent};
use nudge_core::service::Receipts;
use nudge_lambda::{dynamo_store, engine, event_publisher, init_logging, sdk_config, Config};
use nudge_receipts::handle_event;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let config = Config::from_env()?;
    let sdk = sdk_config().await?;
    let engine = engine(&config, dynamo_store(&sdk, &config))?;
    let receipts = Receipts::new(engine, Arc::new(event_publisher(&sdk, &config)));
    let receipts = &receipts;
    run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            handle_event(receipts, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
