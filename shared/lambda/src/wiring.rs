//! Cold-start wiring shared by the functions: logging, one `SdkConfig`, the store, the
//! engine and the event publisher.
use aws_config::SdkConfig;
use std::sync::Arc;

use super::{Config, SmsProvider};
use nudge_core::clock::SystemClock;
use nudge_core::error::Result;
use nudge_core::ports::Store;
use nudge_core::service::Engine;
use nudge_dynamodb::DynamoStore;
use nudge_eventbridge::EventBridgePublisher;
use nudge_sns::SnsOptOutList;

/// JSON logs without timestamps (CloudWatch adds them), level from `RUST_LOG` (default info).
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .without_time()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// The DynamoDB store on the configured table.
pub fn dynamo_store(sdk: &SdkConfig, config: &Config) -> Arc<DynamoStore> {
    Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(sdk),
        config.table_name.clone(),
    ))
}

/// The engine over `store`: the system clock and the configured rulebooks.
pub fn engine<S: Store + ?Sized>(config: &Config, store: Arc<S>) -> Result<Arc<Engine<S>>> {
    Ok(Arc::new(Engine::new(
        store,
        Arc::new(SystemClock),
        config.load_rulebooks()?,
    )))
}

/// The engine of the functions that act on replies (inbound, ingest): as [`engine`], plus,
/// for a deployment sending through SNS, SNS's account opt-out list, so that an opt-in reply
/// takes the number off that list too (unless `SNS_CHECK_OPT_OUT=false` says it is known to
/// stay empty). Other providers' lists are not reconciled yet (see the README).
pub fn reply_engine<S: Store + ?Sized>(
    sdk: &SdkConfig,
    config: &Config,
    store: Arc<S>,
) -> Result<Arc<Engine<S>>> {
    let engine = Engine::new(store, Arc::new(SystemClock), config.load_rulebooks()?);
    Ok(Arc::new(
        if config.sms_provider == SmsProvider::Sns && config.sns_check_opt_out {
            engine
                .with_provider_opt_outs(Arc::new(SnsOptOutList::new(aws_sdk_sns::Client::new(sdk))))
        } else {
            engine
        },
    ))
}

/// The publisher of `message.*`, `reply.*`, `customer.*` and `keyword.*` events.
pub fn event_publisher(sdk: &SdkConfig, config: &Config) -> EventBridgePublisher {
    EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(sdk),
        config.event_bus_name.clone(),
    )
}
