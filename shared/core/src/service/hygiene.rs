//! Number hygiene: a number whose texts keep coming back undelivered for a reason that
//! concerns the number itself (it does not exist, the phone is never reachable, the carrier
//! blocks it) is given up on, as `policy.number_hygiene` says: suppressed, with the reason on
//! its customer, so nothing more is spent on it and the customer's texts are skipped
//! `number_invalid` (queued ones when their send is attempted, pending ones when due).
//!
//! The outcomes in a row are read back from the customer's recent messages, not counted in a
//! state of their own: only an undelivered outcome pays for the look, delivered receipts cost
//! nothing more, and a delivered text ends the row by being there.
use chrono::{DateTime, Utc};
use serde_json::json;

use super::outbound::publish;
use super::{DetailType, Engine};
use crate::domain::{Message, MessageStatus, NumberInvalid, UndeliveredReason};
use crate::error::Result;
use crate::ports::{CustomerStore, DueIndex, EventPublisher, MessageStore, SuppressionList};

/// The source a suppression of a number given up on is recorded with.
pub(crate) const NUMBER_INVALID_SOURCE: &str = "number_invalid";

impl<S: CustomerStore + DueIndex + MessageStore + SuppressionList + ?Sized> Engine<S> {
    /// Weighs an undelivered outcome for `reason` of `message` (a receipt about to be
    /// recorded, or a send the provider refused for that reason): Some(outcomes in a row,
    /// this one included) when that gives the number up, so the caller counts
    /// [`Counter::NumberInvalid`](super::Counter::NumberInvalid) with its result and then calls [`Self::give_up_number`].
    pub(super) async fn weigh_undelivered(
        &self,
        message: &Message,
        reason: UndeliveredReason,
    ) -> Result<Option<u32>> {
        let Ok(rulebook) = self.rulebook(&message.tenant) else {
            return Ok(None);
        };
        let Some(after) = rulebook.policy.number_hygiene.give_up_after(reason) else {
            return Ok(None);
        };
        let hygiene = rulebook.policy.number_hygiene;
        let store = self.store();
        let mut outcomes = 1;
        if outcomes < after {
            // Newest first: the row ends at the first text to this number that was delivered
            // or undelivered for another reason about the number; texts still awaiting an
            // outcome, never sent, or undelivered for a reason that says nothing about the
            // number (a price cap, an expiry) are passed over.
            let recent = store
                .customer_messages(&message.tenant, &message.customer_id, lookback(after))
                .await?;
            let earlier = recent
                .iter()
                .filter(|m| m.id != message.id && m.phone == message.phone);
            for earlier in earlier {
                match earlier.status {
                    MessageStatus::Undelivered
                        if earlier.reason.as_deref() == Some(reason.code()) =>
                    {
                        outcomes += 1;
                    }
                    MessageStatus::Undelivered
                        if earlier
                            .reason
                            .as_deref()
                            .and_then(UndeliveredReason::from_code)
                            .and_then(|other| hygiene.give_up_after(other))
                            .is_some() =>
                    {
                        break
                    }
                    MessageStatus::Delivered => break,
                    _ => {}
                }
                if outcomes >= after {
                    break;
                }
            }
        }
        if outcomes < after || store.is_suppressed(&message.tenant, &message.phone).await? {
            // Not yet; or suppressed already (opted out, or given up on by another receipt).
            return Ok(None);
        }
        Ok(Some(outcomes))
    }

    /// Gives up on the number of `message` after `outcomes` undelivered outcomes in a row
    /// for `reason`: suppresses it, records it on its customer (while the customer has that
    /// number) and announces `customer.number_invalid`.
    pub(super) async fn give_up_number(
        &self,
        message: &Message,
        reason: UndeliveredReason,
        outcomes: u32,
        publisher: &dyn EventPublisher,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let store = self.store();
        store
            .suppress(
                &message.tenant,
                &message.phone,
                now,
                NUMBER_INVALID_SOURCE,
                None,
            )
            .await?;
        if let Some(customer) = store
            .get_customer(&message.tenant, &message.customer_id)
            .await?
        {
            if customer.phone == message.phone && !customer.number_is_invalid() {
                self.modify_customer(&customer, now, |c| {
                    if c.phone == message.phone {
                        c.number_invalid = Some(NumberInvalid {
                            phone: message.phone.clone(),
                            reason,
                            outcomes,
                            since: now,
                        });
                    }
                })
                .await?;
            }
        }
        tracing::warn!(customer = %message.customer_id, reason = reason.code(), outcomes, "number given up on");
        let detail = json!({
            "customer_id": message.customer_id.as_str(),
            "phone": message.phone.as_str(),
            "reason": reason.code(),
            "outcomes": outcomes,
            "message_id": message.id.as_str(),
        });
        publish(
            publisher,
            &message.tenant,
            DetailType::CustomerNumberInvalid,
            detail,
            now,
        )
        .await;
        Ok(())
    }
}

/// Messages looked at to find `after` outcomes in a row: room for the customer's texts
/// still awaiting receipts, skipped ones and texts to earlier numbers in between.
fn lookback(after: u32) -> usize {
    (after as usize).saturating_mul(2).saturating_add(20)
}
