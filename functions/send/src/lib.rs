//! The send function: DynamoDB Streams records of queued messages → the outbox.
//!
//! The stream (filtered to message items with `status = queued`) carries each message's new
//! image, which the handler sends from without reading the item again: the claim is
//! conditional on the image being the stored version (still queued, same number of attempts),
//! so an image older than the item (a redelivered batch, a message requeued after a failed
//! attempt) sends nothing and cannot skip a retry's backoff. A queued image whose backoff has
//! not elapsed is left to the evaluate function's sweep. A redelivered record therefore sends
//! nothing twice: one sender wins the claim.
//!
//! Failures: an error worth retrying (store unavailable, a claim put back) makes that record a
//! batch item failure, so Lambda redelivers from it. A record that can never be sent (no
//! body, bad JSON, not a message item) is logged with its keys and skipped so it does not
//! block the shard, and a `message.failed` event is published when its message id is
//! readable. Provider answers (throttling, invalid number) are the outbox's business: it
//! requeues with backoff or marks the message failed.
use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio::time::Instant;

use nudge_core::domain::{MessageStatus, TenantId};
use nudge_core::error::{Error, Result};
use nudge_core::ports::SmsSender;
use nudge_core::ports::{OutboundEvent, Store};
use nudge_core::rulebook::Rulebook;
use nudge_core::service::{DetailType, Engine, Outbox};
use nudge_dynamodb::stream::{self, StreamImage};
use nudge_eum::{EumSender, EumSettings};
use nudge_lambda::{event_publisher, Config, SmsProvider};
use nudge_sns::SnsSender;

mod tencent;
pub use tencent::{tencent_senders, TENCENT_ACCOUNTS_SECRET_VAR};

/// A messages-per-second budget: sends are spaced `1 s / per_second` apart, so no window of
/// one second holds more than `per_second` sends. Kept across invocations of a warm function
/// (one budget per stream shard being processed; the account-wide rate is the budget times
/// the number of concurrent shards).
#[derive(Debug)]
pub struct SendBudget {
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl SendBudget {
    /// `per_second` = 0 means no limit.
    pub fn new(per_second: u32) -> Self {
        SendBudget {
            interval: (per_second > 0).then(|| Duration::from_secs(1) / per_second),
            next: Mutex::new(None),
        }
    }

    pub fn unlimited() -> Self {
        SendBudget::new(0)
    }

    /// Waits until the next send is within budget, and books it.
    pub async fn acquire(&self) {
        let Some(interval) = self.interval else {
            return;
        };
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = match *next {
                Some(slot) if slot > now => slot,
                _ => now,
            };
            *next = Some(at + interval);
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Handles one batch of stream records; returns the records Lambda must redeliver.
#[tracing::instrument(name = "send", skip_all, fields(records = event.records.len()))]
pub async fn handle_stream<S: Store + ?Sized>(
    outbox: &Outbox<S>,
    budget: &SendBudget,
    event: Event,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    for record in &event.records {
        // Streams identify a record to retry by its sequence number.
        let identifier = record
            .change
            .sequence_number
            .clone()
            .unwrap_or_else(|| record.event_id.clone());
        match process_record(outbox, budget, record).await {
            Ok(()) => {}
            Err(err) if err.is_retryable() => {
                tracing::warn!(error = %err, event_id = %record.event_id, "record will be retried");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = Some(identifier);
                response.batch_item_failures.push(failure);
            }
            Err(err) => {
                tracing::error!(error = %err, event_id = %record.event_id, "record dropped: permanent error");
            }
        }
    }
    response
}

async fn process_record<S: Store + ?Sized>(
    outbox: &Outbox<S>,
    budget: &SendBudget,
    record: &EventRecord,
) -> Result<()> {
    if record.event_name == "REMOVE" {
        return Ok(());
    }
    let message = match stream::read_new_image(record.change.new_image.clone()) {
        StreamImage::Message(message) => *message,
        StreamImage::NotQueued { status } => {
            tracing::debug!(event_id = %record.event_id, status, "not queued, nothing to send");
            return Ok(());
        }
        StreamImage::Unreadable(unreadable) => {
            let pk = unreadable.pk.as_deref().unwrap_or("?");
            let sk = unreadable.sk.as_deref().unwrap_or("?");
            tracing::warn!(pk, sk, event_id = %record.event_id, why = unreadable.why, "malformed stream record skipped");
            if let Some((tenant, id)) = unreadable.message {
                report_unreadable(outbox, tenant, &id).await;
            }
            return Ok(());
        }
    };
    if message.status != MessageStatus::Queued {
        tracing::debug!(message = %message.id, status = message.status.as_str(), "not queued, nothing to send");
        return Ok(());
    }
    let now = outbox.engine().now();
    if message.next_attempt_at.is_some_and(|at| at > now) {
        tracing::debug!(message = %message.id, "retry not due yet; the sweep will send it");
        return Ok(());
    }
    budget.acquire().await;
    outbox.send_message(message).await?;
    Ok(())
}

/// Publishes `message.failed` for a message item whose body cannot be read but names its id.
async fn report_unreadable<S: Store + ?Sized>(outbox: &Outbox<S>, tenant: TenantId, id: &str) {
    let event = OutboundEvent::new(
        DetailType::MessageFailed,
        tenant,
        outbox.engine().now(),
        json!({"message_id": id, "status": "failed", "reason": "malformed_record"}),
    );
    if let Err(err) = outbox.publisher().publish(&[event]).await {
        tracing::error!(error = %err, message = id, "publishing message.failed failed");
    }
}

/// The deployment's SMS sender, as `SMS_PROVIDER` chooses it:
///
/// - SNS with the configured sender id and price cap (each tenant's `sender:` first), asking
///   about the account's opt-out list unless told not to. SNS has no pool parameter, so a
///   rulebook that sends from a pool is a configuration error, found at start.
/// - EUM with the configured configuration set, default identity, price cap and time to live;
///   it sends from numbers, pools and sender ids alike.
/// - Tencent Cloud with each tenant's own account, read from the accounts secret; every
///   tenant with a rulebook must have one.
pub async fn sms_sender(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    rulebooks: &[&Rulebook],
) -> Result<Arc<dyn SmsSender>> {
    Ok(match config.sms_provider {
        SmsProvider::Sns => {
            for rulebook in rulebooks {
                if let Some(origination) = &rulebook.origination {
                    nudge_sns::supports(origination).map_err(|why| {
                        Error::Config(format!("tenant {}: {why}", rulebook.tenant))
                    })?;
                }
            }
            let sender = SnsSender::new(
                aws_sdk_sns::Client::new(sdk),
                config.sms_sender_id.clone(),
                config.sms_max_price.clone(),
            )
            .checking_opt_outs(config.sns_check_opt_out);
            Arc::new(sender)
        }
        SmsProvider::Eum => {
            if config.eum.configuration_set.is_none() {
                tracing::warn!(
                    "EUM_CONFIGURATION_SET is not set: EUM reports no events, so texts get no receipts"
                );
            }
            let settings = EumSettings {
                configuration_set: config.eum.configuration_set.clone(),
                origination_identity: config.eum.origination_identity.clone(),
                max_price: config.eum.max_price.clone(),
                time_to_live_seconds: config.eum.time_to_live_seconds,
            };
            Arc::new(EumSender::new(
                aws_sdk_pinpointsmsvoicev2::Client::new(sdk),
                settings,
            ))
        }
        SmsProvider::Tencent => {
            let secret = config.tencent_accounts_secret.as_deref().ok_or_else(|| {
                Error::Config("SMS_PROVIDER=tencent needs TENCENT_ACCOUNTS_SECRET".into())
            })?;
            Arc::new(tencent_senders(sdk, secret, rulebooks).await?)
        }
    })
}

/// The outbox of the deployed functions: texts through the configured provider
/// ([`sms_sender`]), `message.*` events on EventBridge.
pub async fn deployed_outbox<S: Store + ?Sized>(
    sdk: &aws_config::SdkConfig,
    config: &Config,
    engine: Arc<Engine<S>>,
) -> Result<Outbox<S>> {
    let rulebooks: Vec<&Rulebook> = engine.rulebooks().map(|book| &**book).collect();
    let sender = sms_sender(sdk, config, &rulebooks).await?;
    Ok(Outbox::new(
        engine.clone(),
        sender,
        Arc::new(event_publisher(sdk, config)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sdk() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    fn deployment(provider: &str) -> Config {
        let vars = [
            ("TABLE_NAME", "t"),
            ("RULEBOOK", "tenant: a"),
            ("EVENT_BUS_NAME", "b"),
            ("SMS_PROVIDER", provider),
        ];
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
        .unwrap()
    }

    fn pool_tenant() -> Rulebook {
        nudge_core::rulebook::parse(
            r#"
tenant: shop
brand: SHOP
timezone: UTC
sender: {pool: pool-0123456789abcdef}
rules:
  - id: paid
    category: transactional
    trigger: {event: order.paid}
    template: "SHOP: your order is paid."
"#,
            "shop.yaml",
        )
        .unwrap()
    }

    #[tokio::test]
    async fn sns_refuses_a_tenant_that_sends_from_a_pool_and_eum_takes_it() {
        let pool = pool_tenant();
        let err = sms_sender(&sdk(), &deployment("sns"), &[&pool])
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("tenant shop") && err.contains("pool"), "{err}");
        assert!(sms_sender(&sdk(), &deployment("eum"), &[&pool])
            .await
            .is_ok());
        assert!(sms_sender(&sdk(), &deployment("sns"), &[]).await.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn budget_spaces_sends() {
        let budget = SendBudget::new(4);
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..9 {
            budget.acquire().await;
            times.push(start.elapsed());
        }
        // 4 per second: one every 250 ms, the first at once.
        assert_eq!(times[0], Duration::ZERO);
        assert_eq!(times[4], Duration::from_millis(1000));
        assert_eq!(times[8], Duration::from_millis(2000));
        for window in times.windows(5) {
            assert!(window[4] - window[0] >= Duration::from_secs(1));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn idle_time_is_not_banked() {
        let budget = SendBudget::new(2);
        budget.acquire().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        let start = Instant::now();
        budget.acquire().await;
        budget.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_millis(500));
    }

    #[tokio::test(start_paused = true)]
    async fn unlimited_never_waits() {
        let budget = SendBudget::unlimited();
        let start = Instant::now();
        for _ in 0..1000 {
            budget.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
