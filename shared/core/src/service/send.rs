//! The outbox: claim queued messages, re-check suppression, send, record the result, and
//! tell other systems. Retryable failures go back to the queue with exponential backoff.
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use std::sync::Arc;

use super::counter::{one_each, Counter};
use super::outbound::announce_message;
use super::{DetailType, Engine};
use crate::domain::{
    ConsentState, CustomerId, Message, MessageStatus, PhoneNumber, TenantId, UndeliveredReason,
};
use crate::error::Result;
use crate::policy::SkipReason;
use crate::ports::{
    Claim, CustomerStore, DueIndex, EventPublisher, MessageState, MessageStore, OutgoingText,
    SendError, SmsSender, SuppressionList,
};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendReport {
    pub sent: u32,
    pub retried: u32,
    pub failed: u32,
    pub suppressed: u32,
    /// Claimed by another sender first.
    pub lost_claims: u32,
    /// Put back because the account's spend limit is reached; sending stopped there.
    pub paused: u32,
}

/// The reason (and `message.unknown` resolution) of a sent text whose receipt never came.
pub(crate) const NO_RECEIPT: &str = "no_receipt";

/// What settling expired send leases did ([`Outbox::reconcile_leases`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LeaseReport {
    /// Claimed but never handed to the provider: queued again.
    pub requeued: u32,
    /// Handed to the provider, outcome unknown, transactional: queued again.
    pub resent: u32,
    /// Handed to the provider, outcome unknown: recorded as `unknown`.
    pub unknown: u32,
    /// Settled by someone else first.
    pub lost: u32,
}

impl LeaseReport {
    pub fn is_empty(&self) -> bool {
        *self == LeaseReport::default()
    }
}

/// Sends what the engine queued.
pub struct Outbox<S: ?Sized> {
    engine: Arc<Engine<S>>,
    sender: Arc<dyn SmsSender>,
    publisher: Arc<dyn EventPublisher>,
}

enum Delivery {
    Sent,
    Retry,
    Failed,
    Suppressed,
    LostClaim,
    /// The spend limit is reached: nothing more can go out for now.
    Paused,
}

impl<S: CustomerStore + DueIndex + MessageStore + SuppressionList + ?Sized> Outbox<S> {
    pub fn new(
        engine: Arc<Engine<S>>,
        sender: Arc<dyn SmsSender>,
        publisher: Arc<dyn EventPublisher>,
    ) -> Self {
        Outbox {
            engine,
            sender,
            publisher,
        }
    }

    /// The engine (store, clock, config) this outbox sends for.
    pub fn engine(&self) -> &Arc<Engine<S>> {
        &self.engine
    }

    /// Where send results are announced; stream senders also report unreadable records here.
    pub fn publisher(&self) -> &Arc<dyn EventPublisher> {
        &self.publisher
    }

    /// Sends up to `limit` queued messages whose attempt is due.
    #[tracing::instrument(name = "send_due", skip_all)]
    pub async fn send_due(&self, limit: usize) -> Result<SendReport> {
        let now = self.engine.now();
        let queued = self.engine.store().sendable_messages(now, limit).await?;
        let mut report = SendReport::default();
        for message in queued {
            match self.deliver(message).await? {
                Delivery::Sent => report.sent += 1,
                Delivery::Retry => report.retried += 1,
                Delivery::Failed => report.failed += 1,
                Delivery::Suppressed => report.suppressed += 1,
                Delivery::LostClaim => report.lost_claims += 1,
                Delivery::Paused => {
                    report.paused += 1;
                    break;
                }
            }
        }
        Ok(report)
    }

    /// Sends one queued message (also the entry point of stream-driven senders). A message
    /// not in `queued` any more is left alone, so a redelivered record sends nothing twice.
    #[tracing::instrument(name = "send_message", skip_all, fields(message = %message.id))]
    pub async fn send_message(&self, message: Message) -> Result<bool> {
        Ok(matches!(self.deliver(message).await?, Delivery::Sent))
    }

    /// Settles up to `limit` messages whose sender's lease ended (a crash, a timed-out
    /// invocation) before it recorded the provider's answer:
    /// - still `sending`: the provider was certainly not called, so the text is queued again;
    /// - `dispatched` (or claimed before leases existed): it may have gone out. Categories
    ///   that resend an unknown outcome (transactional) are queued again, at most until
    ///   their attempts run out; the others are recorded as `unknown`. Both are counted and
    ///   announced as `message.unknown`, so nothing is duplicated or lost silently.
    #[tracing::instrument(name = "reconcile_leases", skip_all)]
    pub async fn reconcile_leases(&self, limit: usize) -> Result<LeaseReport> {
        let store = self.engine.store();
        let now = self.engine.now();
        let lease = TimeDelta::seconds(self.engine.config().send_lease_seconds);
        let mut report = LeaseReport::default();
        for held in store.expired_leases(now, limit).await? {
            let lease_end = held.lease_until.unwrap_or(held.updated_at + lease);
            if !held.status.is_leased() || lease_end > now {
                continue; // a message claimed before leases existed, still in its grace time
            }
            let from = MessageState::of(&held);
            let provider_called =
                held.status == MessageStatus::Dispatched || held.lease_until.is_none();
            let resend = !provider_called
                || (held.category.resends_unknown_outcome()
                    && held.attempts < self.engine.config().max_send_attempts);
            let mut settled = held;
            settled.lease_until = None;
            settled.updated_at = now;
            let (counter, recorded) = if resend {
                settled.status = MessageStatus::Queued;
                settled.next_attempt_at = None;
                if provider_called {
                    (Counter::ResentUnknown, &mut report.resent)
                } else {
                    (Counter::LeaseRequeued, &mut report.requeued)
                }
            } else {
                settled.status = MessageStatus::Unknown;
                settled.reason =
                    Some("the sender stopped before recording the provider's answer".into());
                (Counter::Unknown, &mut report.unknown)
            };
            if !store
                .finish_message(&settled, from, &one_each([counter]))
                .await?
            {
                report.lost += 1;
                continue;
            }
            *recorded += 1;
            tracing::warn!(message = %settled.id, status = settled.status.as_str(),
                attempts = settled.attempts, provider_called, "lease expired; message settled");
            if provider_called {
                let resolution = if resend { "resent" } else { "recorded" };
                self.announce(&settled, DetailType::MessageUnknown, Some(resolution), now)
                    .await;
            }
        }
        Ok(report)
    }

    /// Stops waiting for the receipts of up to `limit` texts sent longer than the receipt
    /// wait ago: each is recorded `unknown` with reason `no_receipt`, counted (`no_receipt`,
    /// on its send day) and announced as `message.unknown` (`resolution: "no_receipt"`). A
    /// receipt that still comes later settles it as usual. Returns how many it settled.
    #[tracing::instrument(name = "settle_unreceipted", skip_all)]
    pub async fn settle_unreceipted(&self, limit: usize) -> Result<u32> {
        let wait = self.engine.config().receipt_wait_hours;
        if wait <= 0 {
            return Ok(0);
        }
        let store = self.engine.store();
        let now = self.engine.now();
        let mut settled_count = 0;
        for sent in store
            .unreceipted_messages(now - TimeDelta::hours(wait), limit)
            .await?
        {
            if sent.status != MessageStatus::Sent {
                continue;
            }
            let from = MessageState::of(&sent);
            let mut unknown = sent;
            unknown.status = MessageStatus::Unknown;
            unknown.reason = Some(NO_RECEIPT.to_string());
            unknown.updated_at = now;
            if store
                .finish_message(&unknown, from, &one_each([Counter::NoReceipt]))
                .await?
            {
                settled_count += 1;
                self.announce(&unknown, DetailType::MessageUnknown, Some(NO_RECEIPT), now)
                    .await;
            }
        }
        if settled_count > 0 {
            tracing::warn!(
                texts = settled_count,
                wait_hours = wait,
                "no receipt came; recorded unknown"
            );
        }
        Ok(settled_count)
    }

    async fn deliver(&self, message: Message) -> Result<Delivery> {
        let store = self.engine.store();
        let now = self.engine.now();
        if message.status != MessageStatus::Queued {
            return Ok(Delivery::LostClaim);
        }
        let mut claimed = message.clone();
        claimed.status = MessageStatus::Sending;
        claimed.attempts += 1;
        claimed.updated_at = now;
        claimed.next_attempt_at = None;
        claimed.lease_until =
            Some(now + TimeDelta::seconds(self.engine.config().send_lease_seconds));
        match store.claim_message(&claimed).await? {
            Claim::Claimed => {}
            Claim::Lost => return Ok(Delivery::LostClaim),
            Claim::Suppressed => {
                // Not claimed: the message is still queued as read, and ends here.
                let reason = self.suppressed_because(&message).await?;
                return Ok(
                    if self
                        .skip_suppressed(message.clone(), MessageState::of(&message), reason, now)
                        .await?
                    {
                        Delivery::Suppressed
                    } else {
                        Delivery::LostClaim
                    },
                );
            }
        }
        // Marked before the provider is called, so a lease that ends from here on is known
        // to hide a text that may have gone out (and one that ends before, one that did not).
        let mut dispatched = claimed.clone();
        dispatched.status = MessageStatus::Dispatched;
        if !store
            .transition_message(&dispatched, MessageState::of(&claimed))
            .await?
        {
            return Ok(Delivery::LostClaim);
        }
        let held = MessageState::of(&dispatched);
        let mut done = dispatched;
        done.lease_until = None;
        let Ok(rulebook) = self.engine.rulebook(&done.tenant).cloned() else {
            // Queued while the tenant had a rulebook, which this deployment no longer has:
            // who the text would come from is unknown, so it fails visibly rather than go
            // out from a number the tenant's customers do not know.
            let reason = format!("tenant {} has no rulebook", done.tenant);
            return self.fail(done, held, reason, now).await;
        };
        let text = OutgoingText {
            tenant: &done.tenant,
            message_id: &done.id,
            to: &done.phone,
            text: &done.text,
            category: done.category,
            segments: done.segments,
            origination: rulebook.origination.as_ref(),
            template: done.template.as_ref(),
        };
        let config = self.engine.config();
        match self.sender.send(&text).await {
            Ok(sent) => {
                done.status = MessageStatus::Sent;
                done.provider = Some(sent.provider.to_string());
                done.provider_id = Some(sent.provider_id);
                done.sent_at = Some(now);
                self.finish(done, held, [Counter::Sent], DetailType::MessageSent, now)
                    .await?;
                Ok(Delivery::Sent)
            }
            Err(SendError::OptedOut { provider }) => {
                // The number opted out with the provider itself (e.g. replied STOP to the
                // carrier): honour it everywhere so nothing else is queued for it.
                tracing::warn!(message = %done.id, provider, "recipient opted out at the provider");
                self.engine
                    .honour_provider_opt_out(&done.tenant, &done.phone, &done.customer_id, now)
                    .await?;
                self.skip_suppressed(done, held, SkipReason::OptedOut, now)
                    .await?;
                Ok(Delivery::Suppressed)
            }
            Err(SendError::SpendLimitReached { message, .. }) => {
                // Not this text's fault: it waits, with its attempt given back, and this
                // round of sending stops (every other text would meet the same answer).
                tracing::error!(message = %done.id, reason = %message, "spend limit reached; sending paused");
                let mut paused = done;
                paused.status = MessageStatus::Queued;
                paused.attempts = paused.attempts.saturating_sub(1);
                paused.reason = Some(message);
                paused.next_attempt_at =
                    Some(now + TimeDelta::seconds(config.spend_limit_pause_seconds));
                self.engine
                    .store()
                    .finish_message(&paused, held, &one_each([Counter::PausedSpendLimit]))
                    .await?;
                Ok(Delivery::Paused)
            }
            Err(SendError::Retryable { message, .. })
                if done.attempts < config.max_send_attempts =>
            {
                let mut next = done;
                next.reason = Some(message);
                next.status = MessageStatus::Queued;
                next.next_attempt_at =
                    Some(now + backoff(config.retry_base_seconds, next.attempts));
                store.transition_message(&next, held).await?;
                tracing::warn!(message = %next.id, attempts = next.attempts, "send failed, will retry");
                Ok(Delivery::Retry)
            }
            Err(SendError::InvalidNumber { message, .. }) => {
                // The provider refused the destination itself: one invalid-number outcome,
                // which may give the number up as a receipt saying so would.
                let reason = UndeliveredReason::InvalidNumber;
                let given_up = self.engine.weigh_undelivered(&done, reason).await?;
                let mut counted = vec![Counter::Failed];
                counted.extend(given_up.map(|_| Counter::NumberInvalid(reason)));
                let mut failed = done;
                failed.status = MessageStatus::Failed;
                failed.reason = Some(message);
                self.finish(
                    failed.clone(),
                    held,
                    counted,
                    DetailType::MessageFailed,
                    now,
                )
                .await?;
                if let Some(outcomes) = given_up {
                    self.engine
                        .give_up_number(&failed, reason, outcomes, &*self.publisher, now)
                        .await?;
                }
                Ok(Delivery::Failed)
            }
            Err(SendError::Retryable { message, .. } | SendError::Permanent { message, .. }) => {
                self.fail(done, held, message, now).await
            }
            Err(SendError::Local(err)) => {
                // Not the provider's answer (our own I/O, configuration): the text never
                // left. Put the message back exactly as it was read, so the redelivered
                // record (or the sweep) claims it again.
                store.transition_message(&message, held).await?;
                Err(err)
            }
        }
    }

    /// Ends a message as `failed` for `reason`, counted and announced.
    async fn fail(
        &self,
        message: Message,
        from: MessageState,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Delivery> {
        let mut failed = message;
        failed.status = MessageStatus::Failed;
        failed.reason = Some(reason);
        self.finish(
            failed,
            from,
            [Counter::Failed],
            DetailType::MessageFailed,
            now,
        )
        .await?;
        Ok(Delivery::Failed)
    }

    /// Why a message's number is suppressed: given up on as invalid (the customer says so
    /// while it has that number), else opted out. Read only when a claim found it suppressed.
    async fn suppressed_because(&self, message: &Message) -> Result<SkipReason> {
        let customer = self
            .engine
            .store()
            .get_customer(&message.tenant, &message.customer_id)
            .await?;
        Ok(match customer {
            Some(c) if c.phone == message.phone && c.number_is_invalid() => {
                SkipReason::NumberInvalid
            }
            _ => SkipReason::OptedOut,
        })
    }

    /// Ends a message whose number is suppressed (`reason`: opted out, or given up on);
    /// false when it was no longer in `from`.
    async fn skip_suppressed(
        &self,
        message: Message,
        from: MessageState,
        reason: SkipReason,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let mut skipped = message;
        skipped.status = MessageStatus::Skipped;
        skipped.lease_until = None;
        skipped.reason = Some(reason.code().to_string());
        self.finish(
            skipped,
            from,
            [Counter::Skipped(reason)],
            DetailType::MessageSkipped,
            now,
        )
        .await
    }

    /// Records the result and counts it together, then announces it. False (nothing
    /// recorded, nothing announced) when the message was no longer in `from`.
    async fn finish(
        &self,
        message: Message,
        from: MessageState,
        counted: impl IntoIterator<Item = Counter>,
        detail_type: DetailType,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let counters = one_each(counted);
        let mut message = message;
        message.updated_at = now;
        if !self
            .engine
            .store()
            .finish_message(&message, from, &counters)
            .await?
        {
            tracing::warn!(message = %message.id, from = from.status.as_str(), "result not recorded: the message moved meanwhile");
            return Ok(false);
        }
        tracing::info!(message = %message.id, rule = %message.rule, customer = %message.customer_id,
            status = message.status.as_str(), "send result");
        self.announce(&message, detail_type, None, now).await;
        Ok(true)
    }

    async fn announce(
        &self,
        message: &Message,
        detail_type: DetailType,
        resolution: Option<&str>,
        now: DateTime<Utc>,
    ) {
        announce_message(&*self.publisher, message, detail_type, resolution, now).await;
    }
}

impl<S: CustomerStore + DueIndex + SuppressionList + ?Sized> Engine<S> {
    /// A number opted out with the provider or its carrier (a send refused, a receipt said
    /// so): suppressed here too and its customer's consent recorded, so nothing more is
    /// decided for it and the two lists agree.
    pub(super) async fn honour_provider_opt_out(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
        customer: &CustomerId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.store()
            .suppress(tenant, phone, now, "provider", None)
            .await?;
        if let Some(customer) = self.store().get_customer(tenant, customer).await? {
            self.set_consent(&customer, ConsentState::OptedOut, now, "provider")
                .await?;
        }
        Ok(())
    }
}

/// base · 2^(attempt-1), capped at one hour.
fn backoff(base_seconds: i64, attempt: u32) -> TimeDelta {
    let factor = 1i64 << attempt.saturating_sub(1).min(16);
    TimeDelta::seconds((base_seconds * factor).min(3_600))
}
