//! Lambda `nudge-send`: DynamoDB Streams records of queued messages → SNS or EUM
//! (`SMS_PROVIDER`), within the `SEND_MPS` budget. Configuration: see `nudge_lambda::config`.
use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{run, service_fn, LambdaEvent};
use nudge_lambda::{dynamo_store, engine, init_logging, sdk_config, Config};
use nudge_send::{deployed_outbox, handle_stream, SendBudget};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let config = Config::from_env()?;
    let sdk = sdk_config().await?;
    let outbox =
        deployed_outbox(&sdk, &config, engine(&config, dynamo_store(&sdk, &config))?).await?;
    let budget = SendBudget::new(config.send_mps);
    let (outbox, budget) = (&outbox, &budget);
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(handle_stream(outbox, budget, event.payload).await)
    }))
    .await
}
