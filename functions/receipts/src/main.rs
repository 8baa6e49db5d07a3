//! Lambda `nudge-receipts`: SNS SMS delivery-status logs (CloudWatch Logs subscription) →
//! each text's `delivered` / `undelivered` status, counters and `message.*` events.
//! Configuration: see `nudge_lambda::config`.
use aws_lambda_events::cloudwatch_logs::LogsEvent;
use lambda_runtime::{run, service_fn, LambdaEvent};
use nudge_core::service::Receipts;
use nudge_lambda::{dynamo_store, engine, event_publisher, init_logging, sdk_config, Config};
use nudge_receipts::handle_logs;
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
        move |event: LambdaEvent<LogsEvent>| async move {
            handle_logs(receipts, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
