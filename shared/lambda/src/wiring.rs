//! Cold-start wiring shared by the functions: logging, one `SdkConfig`, the store, the
//! engine and the event publisher.
use aws_config::SdkConfig;
use std::sync::Arc;

use super::{Config, SmsProvider};
use nudge_core::clock::SystemClock;
use nudge_core::error::Result;
use nudge_core::ports::{ProviderOptOuts, Store};
use nudge_core::service::Engine;
use nudge_dynamodb::DynamoStore;
use nudge_eum::{EumOptOutList, DEFAULT_OPT_OUT_LIST};
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

/// The engine of the functions that act on replies (inbound, ingest): as [`engine`], plus
/// the sending provider's opt-out list, so that an opt-in reply takes the number off it too:
/// SNS's account list (unless `SNS_CHECK_OPT_OUT=false` says it is known to stay empty), or
/// End User Messaging's list (`EUM_OPT_OUT_LIST`, default `Default`). Tencent keeps no list
/// nudge can edit.
pub fn reply_engine<S: Store + ?Sized>(
    sdk: &SdkConfig,
    config: &Config,
    store: Arc<S>,
) -> Result<Arc<Engine<S>>> {
    let engine = Engine::new(store, Arc::new(SystemClock), config.load_rulebooks()?);
    let opt_outs: Option<Arc<dyn ProviderOptOuts>> = match config.sms_provider {
        SmsProvider::Sns if config.sns_check_opt_out => {
            Some(Arc::new(SnsOptOutList::new(aws_sdk_sns::Client::new(sdk))))
        }
        SmsProvider::Sns | SmsProvider::Tencent => None,
        SmsProvider::Eum => Some(Arc::new(EumOptOutList::new(
            aws_sdk_pinpointsmsvoicev2::Client::new(sdk),
            config
                .eum
                .opt_out_list
                .clone()
                .unwrap_or_else(|| DEFAULT_OPT_OUT_LIST.to_string()),
        ))),
    };
    Ok(Arc::new(match opt_outs {
        Some(opt_outs) => engine.with_provider_opt_outs(opt_outs),
        None => engine,
    }))
}

/// The publisher of `message.*`, `reply.*`, `customer.*` and `keyword.*` events.
pub fn event_publisher(sdk: &SdkConfig, config: &Config) -> EventBridgePublisher {
    EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(sdk),
        config.event_bus_name.clone(),
    )
}
