//! Lambda `nudge-inbound`: two-way SMS replies (AWS End User Messaging → SNS topic) → the
//! reply service: opt-out/in, help, keyword menus, free text. Answers are queued in the
//! outbox and sent by `nudge-send`. Configuration: see `nudge_lambda::config`.
use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{run, service_fn, LambdaEvent};
use nudge_inbound::handle_sns;
use nudge_lambda::{dynamo_store, event_publisher, init_logging, reply_engine, sdk_config, Config};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logging();
    let config = Config::from_env()?;
    let sdk = sdk_config().await?;
    let engine = reply_engine(&sdk, &config, dynamo_store(&sdk, &config))?;
    let publisher = event_publisher(&sdk, &config);
    let (engine, publisher) = (&engine, &publisher);
    run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        handle_sns(engine, publisher, event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
