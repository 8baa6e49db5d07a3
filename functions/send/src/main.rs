//! Lambda `nudge-send`: DynamoDB Streams records of queued messages → SNS, within the
//! `SEND_MPS` budget. Configuration: see `nudge_core::lambda::config`.
use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{run, service_fn, LambdaEvent};
use nudge_core::adapters::dynamodb::DynamoStore;
use nudge_core::lambda::{engine_and_outbox, handle_stream, sdk_config, Config, SendBudget};
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
    let (_engine, outbox) = engine_and_outbox(&sdk, &config, store)?;
    let budget = SendBudget::new(config.send_mps);
    let (outbox, budget) = (&outbox, &budget);
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(handle_stream(outbox, budget, event.payload).await)
    }))
    .await
}
