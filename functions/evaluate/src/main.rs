//! Lambda `nudge-evaluate`: every minute (EventBridge schedule) decide the due timers, then
//! send queued retries whose backoff elapsed. Configuration: see `nudge_lambda::config`.
use aws_lambda_events::eventbridge::EventBridgeEvent;
use lambda_runtime::{run, service_fn, LambdaEvent};
use nudge_evaluate::handle_schedule;
use nudge_lambda::{dynamo_store, engine, init_logging, sdk_config, Config};
use nudge_send::{deployed_outbox, SendBudget};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let config = Config::from_env()?;
    let sdk = sdk_config().await?;
    let engine = engine(&config, dynamo_store(&sdk, &config))?;
    let outbox = deployed_outbox(&sdk, &config, engine.clone()).await?;
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
