//! Delivery receipts: what a provider reports after it accepted a text. A receipt moves its
//! message forward only — `sent` (or `unknown`) to `delivered` or `undelivered` — once:
//! receipts arrive late, twice or out of order, and a repeated or stale one changes nothing.
use serde::Serialize;
use std::sync::Arc;

use super::counter::{one_each, Counter};
use super::outbound::announce_message;
use super::send::NO_RECEIPT;
use super::{DetailType, Engine};
use crate::domain::{DeliveryOutcome, MessageStatus, Receipt, UndeliveredReason};
use crate::error::Result;
use crate::ports::{
    CustomerStore, DueIndex, EventPublisher, MessageState, MessageStore, SuppressionList,
};

/// What one receipt did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiptApplied {
    /// The message is now `delivered` or `undelivered`.
    Recorded,
    /// The message was settled already (a repeated receipt, or one after another final
    /// one): nothing changed.
    AlreadySettled,
    /// No text nudge sent has this provider id (another system's text on the same account,
    /// or one whose lookup expired): nothing changed.
    Unmatched,
}

/// Counts of what a batch of receipts did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReceiptReport {
    pub recorded: u32,
    pub already_settled: u32,
    pub unmatched: u32,
}

impl ReceiptReport {
    pub fn add(&mut self, applied: ReceiptApplied) {
        match applied {
            ReceiptApplied::Recorded => self.recorded += 1,
            ReceiptApplied::AlreadySettled => self.already_settled += 1,
            ReceiptApplied::Unmatched => self.unmatched += 1,
        }
    }
}

/// Records delivery receipts on their messages, counts them and announces them.
pub struct Receipts<S: ?Sized> {
    engine: Arc<Engine<S>>,
    publisher: Arc<dyn EventPublisher>,
}

impl<S: CustomerStore + DueIndex + MessageStore + SuppressionList + ?Sized> Receipts<S> {
    pub fn new(engine: Arc<Engine<S>>, publisher: Arc<dyn EventPublisher>) -> Self {
        Receipts { engine, publisher }
    }

    /// Records one receipt. An undelivered text whose number opted out with the provider
    /// suppresses the number here too, as a refused send does; one that makes enough
    /// undelivered outcomes in a row gives the number up (`policy.number_hygiene`).
    #[tracing::instrument(name = "receipt", skip_all, fields(provider = %receipt.provider, provider_id = %receipt.provider_id))]
    pub async fn record(&self, receipt: &Receipt) -> Result<ReceiptApplied> {
        let store = self.engine.store();
        let now = self.engine.now();
        let Some(message) = store
            .message_by_provider_id(&receipt.provider, &receipt.provider_id)
            .await?
        else {
            tracing::info!("receipt for no text nudge sent");
            return Ok(ReceiptApplied::Unmatched);
        };
        if !message.status.awaits_receipt() {
            return Ok(ReceiptApplied::AlreadySettled);
        }
        let from = MessageState::of(&message);
        // A receipt after the sweep stopped waiting for it: the text leaves `no_receipt`.
        let was_unreceipted = message.status == MessageStatus::Unknown
            && message.reason.as_deref() == Some(NO_RECEIPT);
        let mut settled = message;
        settled.updated_at = now;
        settled.delivery = Some(receipt.report.clone());
        let (detail_type, mut counters) = match receipt.outcome {
            DeliveryOutcome::Delivered => {
                settled.status = MessageStatus::Delivered;
                settled.reason = None;
                (DetailType::MessageDelivered, one_each([Counter::Delivered]))
            }
            DeliveryOutcome::Undelivered(reason) => {
                settled.status = MessageStatus::Undelivered;
                settled.reason = Some(reason.code().to_string());
                (
                    DetailType::MessageUndelivered,
                    one_each([Counter::Undelivered, Counter::UndeliveredFor(reason)]),
                )
            }
        };
        let given_up = match receipt.outcome {
            DeliveryOutcome::Undelivered(reason) => self
                .engine
                .weigh_undelivered(&settled, reason)
                .await?
                .map(|outcomes| (reason, outcomes)),
            DeliveryOutcome::Delivered => None,
        };
        if let Some((reason, _)) = given_up {
            counters.insert(Counter::NumberInvalid(reason).name(), 1);
        }
        if was_unreceipted {
            counters.insert(Counter::NoReceipt.name(), -1);
        }
        let parts = receipt.report.parts.unwrap_or(settled.segments);
        counters.insert(Counter::Parts.name(), i64::from(parts));
        if let Some(cost) = receipt.report.price_micro_usd() {
            counters.insert(Counter::CostMicroUsd.name(), cost);
        }
        if !store.finish_message(&settled, from, &counters).await? {
            // Another receipt (a redelivery of this one) settled it meanwhile.
            return Ok(ReceiptApplied::AlreadySettled);
        }
        tracing::info!(message = %settled.id, status = settled.status.as_str(), reason = settled.reason.as_deref(), "receipt recorded");
        if receipt.outcome == DeliveryOutcome::Undelivered(UndeliveredReason::OptedOut) {
            self.engine
                .honour_provider_opt_out(&settled.tenant, &settled.phone, &settled.customer_id, now)
                .await?;
        }
        if let Some((reason, outcomes)) = given_up {
            self.engine
                .give_up_number(&settled, reason, outcomes, &*self.publisher, now)
                .await?;
        }
        announce_message(&*self.publisher, &settled, detail_type, None, now).await;
        Ok(ReceiptApplied::Recorded)
    }

    /// Records receipts one after another; the first store failure stops the batch (what
    /// was recorded stays recorded, and a redelivered batch finds it settled).
    pub async fn record_all(&self, receipts: &[Receipt]) -> Result<ReceiptReport> {
        let mut report = ReceiptReport::default();
        for receipt in receipts {
            report.add(self.record(receipt).await?);
        }
        Ok(report)
    }
}
