//! Cold-start wiring shared by the functions: one `SdkConfig`, the engine and the outbox.
use aws_config::{BehaviorVersion, SdkConfig};
use std::sync::Arc;

use super::Config;
use crate::adapters::clock::SystemClock;
use crate::adapters::eventbridge::EventBridgePublisher;
use crate::adapters::sns::SnsSender;
use crate::error::{Error, Result};
use crate::ports::Store;
use crate::service::{Engine, Outbox};

/// Loads the AWS configuration from the standard sources (`AWS_REGION`, credentials,
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` for emulators). A missing region is a
/// configuration error rather than a failure at the first call.
pub async fn sdk_config() -> Result<SdkConfig> {
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    if sdk.region().is_none() {
        return Err(Error::Config("AWS_REGION is not set".into()));
    }
    Ok(sdk)
}

/// The engine over `store`: the system clock and the configured rulebooks.
pub fn engine<S: Store + ?Sized>(config: &Config, store: Arc<S>) -> Result<Arc<Engine<S>>> {
    Ok(Arc::new(Engine::new(
        store,
        Arc::new(SystemClock),
        config.load_rulebooks()?,
    )))
}

/// The engine and an outbox sending with SNS and announcing on EventBridge, over `store`.
pub fn engine_and_outbox<S: Store + ?Sized>(
    sdk: &SdkConfig,
    config: &Config,
    store: Arc<S>,
) -> Result<(Arc<Engine<S>>, Outbox<S>)> {
    let engine = engine(config, store)?;
    let sender = SnsSender::new(
        aws_sdk_sns::Client::new(sdk),
        config.sms_sender_id.clone(),
        config.sms_max_price.clone(),
    );
    let publisher = EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(sdk),
        config.event_bus_name.clone(),
    );
    let outbox = Outbox::new(engine.clone(), Arc::new(sender), Arc::new(publisher));
    Ok((engine, outbox))
}
