//! The evaluate tick: every whole minute since the checkpoint, decide the due timers.
//! Safe to run twice for the same minute: sends are deduplicated by key, timer removal and
//! checkpoint moves are idempotent.
use chrono::{DateTime, DurationRound, NaiveDate, TimeDelta, Utc};
use std::collections::HashMap;

use super::counter::{one_each, Counter};
use super::goals;
use super::retry::{retry_on_conflict, Attempt};
use super::{decide, message_id, DecisionRecord, Engine, Outcome};
use crate::domain::{
    Customer, CustomerId, Message, MessageId, MessageStatus, SentEntry, TemplateRef, TenantId,
    Timer,
};
use crate::error::{Error, Result};
use crate::policy::{DeferReason, SkipReason};
use crate::ports::{
    CommitOutcome, CounterStore, CustomerStore, DueIndex, MessageStore, SendCommit,
};
use crate::rulebook::{Rule, Rulebook};
use crate::schedule::ceil_to_minute;

/// Attempts at deciding one timer when the customer keeps changing underneath.
const DECIDE_ATTEMPTS: usize = 5;

/// Due timers whose customers are read together (one DynamoDB BatchGetItem holds 100 keys).
const CUSTOMERS_PER_READ: usize = 100;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TickReport {
    /// Minutes fully processed by this tick.
    pub minutes: u32,
    pub decisions: Vec<DecisionRecord>,
    /// True when the tick stopped at its per-invocation bound before catching up.
    pub behind: bool,
}

fn floor_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

impl<S: CustomerStore + DueIndex + MessageStore + CounterStore + ?Sized> Engine<S> {
    /// Processes every minute after the checkpoint up to the current one.
    #[tracing::instrument(name = "tick", skip_all)]
    pub async fn tick(&self) -> Result<TickReport> {
        let now = self.now();
        let current = floor_minute(now);
        let mut minute = match self.store.checkpoint().await? {
            Some(done) => done + TimeDelta::minutes(1),
            None => current,
        };
        let mut report = TickReport::default();
        while minute <= current {
            if report.minutes >= self.config.max_minutes_per_tick {
                report.behind = true;
                break;
            }
            let mut due = self.store.due_timers(minute).await?.into_iter();
            loop {
                let batch: Vec<Timer> = due.by_ref().take(CUSTOMERS_PER_READ).collect();
                if batch.is_empty() {
                    break;
                }
                let ids: Vec<(TenantId, CustomerId)> = batch
                    .iter()
                    .map(|t| (t.tenant.clone(), t.customer_id.clone()))
                    .collect();
                let mut customers: HashMap<(TenantId, CustomerId), Customer> = self
                    .store
                    .get_customers(&ids)
                    .await?
                    .into_iter()
                    .map(|c| ((c.tenant.clone(), c.id.clone()), c))
                    .collect();
                for timer in batch {
                    // A customer with two timers in the batch is read afresh for the second.
                    let known =
                        customers.remove(&(timer.tenant.clone(), timer.customer_id.clone()));
                    if let Some(decision) = self.process_timer(timer, known, now).await? {
                        report.decisions.push(decision);
                    }
                }
            }
            self.store.set_checkpoint(minute).await?;
            report.minutes += 1;
            minute += TimeDelta::minutes(1);
        }
        Ok(report)
    }

    /// Decides one due timer and records the outcome. Returns None when the timer no longer
    /// applies (rule removed, customer deleted, opted out before arming).
    ///
    /// `known` is the customer as just stored by the caller, which saves reading it again; a
    /// stale one only costs a conflict and a fresh read.
    pub(crate) async fn process_timer(
        &self,
        timer: Timer,
        known: Option<Customer>,
        now: DateTime<Utc>,
    ) -> Result<Option<DecisionRecord>> {
        let Some((rulebook, rule)) = self.rule_of(&timer).await? else {
            return Ok(None);
        };
        let due = Due {
            timer: &timer,
            rulebook,
            rule,
            now,
        };
        let mut known = known.filter(|c| c.tenant == timer.tenant && c.id == timer.customer_id);
        let decided = retry_on_conflict(DECIDE_ATTEMPTS, || {
            let known = known.take();
            let due = &due;
            async move { self.decide_once(due, known).await }
        })
        .await?;
        decided.ok_or_else(|| {
            Error::Conflict(format!(
                "customer {} kept changing while deciding",
                timer.customer_id
            ))
        })
    }

    /// The rulebook and rule of a due timer. None, and the timer dropped, when its tenant has
    /// no rulebook any more or its rule was removed.
    async fn rule_of(&self, timer: &Timer) -> Result<Option<(&Rulebook, &Rule)>> {
        let Ok(rulebook) = self.rulebook(&timer.tenant) else {
            tracing::warn!(tenant = %timer.tenant, "timer of a tenant without rulebook dropped");
            self.drop_timer(timer).await?;
            return Ok(None);
        };
        let Some(rule) = rulebook.rule(&timer.rule) else {
            tracing::info!(rule = %timer.rule, "timer of a removed rule dropped");
            self.drop_timer(timer).await?;
            return Ok(None);
        };
        Ok(Some((rulebook, rule)))
    }

    /// One attempt: read the customer (unless known), decide, and record the outcome. A
    /// conflict means the customer changed since it was read (only a send is conditional).
    async fn decide_once(
        &self,
        due: &Due<'_>,
        known: Option<Customer>,
    ) -> Result<Attempt<Option<DecisionRecord>>> {
        let customer = match known {
            Some(customer) => Some(customer),
            None => {
                self.store
                    .get_customer(&due.timer.tenant, &due.timer.customer_id)
                    .await?
            }
        };
        let Some(customer) = customer else {
            // The customer was deleted: the timer goes too.
            self.drop_timer(due.timer).await?;
            return Ok(Attempt::Done(None));
        };
        let outcome = decide(
            due.rulebook,
            due.rule,
            &customer,
            due.timer.event.as_ref(),
            due.now,
        );
        let recorded = match outcome {
            Outcome::Send {
                text,
                segments,
                template,
            } => {
                match self
                    .commit_send(due, &customer, text, segments, template)
                    .await?
                {
                    Attempt::Done(outcome) => outcome,
                    Attempt::Conflict => return Ok(Attempt::Conflict),
                }
            }
            Outcome::Defer {
                until,
                reason,
                text,
            } => {
                self.defer(due, &customer, until, reason).await?;
                Outcome::Defer {
                    until,
                    reason,
                    text,
                }
            }
            Outcome::Skip {
                reason: SkipReason::Holdout,
                text,
            } if due.rule.goal.is_some() => {
                if let Attempt::Conflict = self.hold_out(due, &customer, text.as_deref()).await? {
                    return Ok(Attempt::Conflict);
                }
                Outcome::Skip {
                    reason: SkipReason::Holdout,
                    text,
                }
            }
            Outcome::Skip { reason, text } => {
                self.skip(due, &customer, &reason, text.as_deref()).await?;
                Outcome::Skip { reason, text }
            }
        };
        Ok(Attempt::Done(Some(due.record(recorded))))
    }

    /// Queues the text and adds it to the customer's ledger, consuming the timer, in one
    /// write conditional on the customer being as read (so two decisions cannot both pass a
    /// cap). A recurring rule then arms its next occurrence.
    async fn commit_send(
        &self,
        due: &Due<'_>,
        customer: &Customer,
        text: String,
        segments: u32,
        template: Option<TemplateRef>,
    ) -> Result<Attempt<Outcome>> {
        let now = due.now;
        let mut updated = customer.clone();
        let horizon = due.rulebook.policy.ledger_horizon().negate();
        let keep_since = horizon.add_to(now).unwrap_or(now);
        let entry = SentEntry {
            at: now,
            category: due.rule.category,
            rule: due.rule.id.clone(),
        };
        updated.record_send(entry, keep_since);
        updated.updated_at = now;
        let message = Message {
            template: template.clone(),
            ..due.message(customer, MessageStatus::Queued, &text, segments, None)?
        };
        goals::record_touch(
            due.rulebook,
            due.rule,
            &mut updated,
            &message.id,
            now,
            false,
        );
        let commit = SendCommit {
            message,
            customer: updated,
            expected_version: customer.version,
            timer: Some(due.timer.clone()),
            stats: one_each([Counter::Queued]),
        };
        match self.store.commit_send(&commit).await? {
            CommitOutcome::Committed => {
                tracing::info!(rule = %due.rule.id, customer = %customer.id, outcome = "send", "decision");
                // Recurring triggers (anniversary, every) arm their next occurrence. A send
                // changes nothing other timers depend on, so the rest is left alone (it would
                // cost a Query, a BatchGet and a write).
                if due.rule.trigger.recurs() {
                    let mut customer = commit.customer;
                    customer.version = commit.expected_version + 1;
                    self.rearm_state_timers(due.rulebook, &customer, now)
                        .await?;
                }
                Ok(Attempt::Done(Outcome::Send {
                    text,
                    segments,
                    template,
                }))
            }
            CommitOutcome::Duplicate => Ok(Attempt::Done(
                self.skip_duplicate(due, customer, text).await?,
            )),
            CommitOutcome::Conflict => Ok(Attempt::Conflict),
        }
    }

    /// The occurrence was decided "send" before (a repeated decision): its timer goes and the
    /// skip is counted; there is no second message.
    async fn skip_duplicate(
        &self,
        due: &Due<'_>,
        customer: &Customer,
        text: String,
    ) -> Result<Outcome> {
        self.drop_timer(due.timer).await?;
        let stats = one_each([Counter::Skipped(SkipReason::Duplicate)]);
        self.store
            .add_stats(&due.timer.tenant, due.day(), due.rule.id.as_str(), &stats)
            .await?;
        tracing::info!(rule = %due.rule.id, customer = %customer.id, outcome = "skip", reason = SkipReason::Duplicate.code(), "decision");
        Ok(Outcome::Skip {
            reason: SkipReason::Duplicate,
            text: Some(text),
        })
    }

    /// Moves the timer to the first whole minute at or after `until` (at least the next
    /// minute, which this tick does not process again) and counts the deferral.
    async fn defer(
        &self,
        due: &Due<'_>,
        customer: &Customer,
        until: DateTime<Utc>,
        reason: DeferReason,
    ) -> Result<()> {
        let next = ceil_to_minute(until).max(ceil_to_minute(due.now + TimeDelta::seconds(1)));
        let mut moved = due.timer.clone();
        moved.deferrals += 1;
        self.store.reschedule_timer(&moved, next).await?;
        let stats = one_each([Counter::Deferred, Counter::DeferredFor(reason)]);
        self.store
            .add_stats(&due.timer.tenant, due.day(), due.rule.id.as_str(), &stats)
            .await?;
        tracing::info!(rule = %due.rule.id, customer = %customer.id, outcome = "defer", reason = %reason, until = %next, "decision");
        Ok(())
    }

    /// Records the occurrence as skipped: a skipped message saying why, the timer removed and
    /// the skip counted, together.
    async fn skip(
        &self,
        due: &Due<'_>,
        customer: &Customer,
        reason: &SkipReason,
        text: Option<&str>,
    ) -> Result<()> {
        let text = text.unwrap_or("");
        let reason_code = Some(reason.code().to_string());
        let skipped = due.message(customer, MessageStatus::Skipped, text, 0, reason_code)?;
        let stats = one_each([Counter::Skipped(reason.clone())]);
        self.store
            .record_skip(&skipped, Some(due.timer), &stats)
            .await?;
        tracing::info!(rule = %due.rule.id, customer = %customer.id, outcome = "skip", reason = %reason.code(), "decision");
        Ok(())
    }

    /// Holds the customer out of a rule with a goal: the skipped message, the customer with
    /// the holdout touch its goal events will be attributed to, the timer removed and the
    /// skip counted, in one write conditional on the customer being as read (the touch must
    /// not be lost to a concurrent event). The occurrence's dedupe key is taken too: a held-out
    /// occurrence is never sent later.
    async fn hold_out(
        &self,
        due: &Due<'_>,
        customer: &Customer,
        text: Option<&str>,
    ) -> Result<Attempt<()>> {
        let reason = SkipReason::Holdout;
        let code = Some(reason.code().to_string());
        let skipped = due.message(
            customer,
            MessageStatus::Skipped,
            text.unwrap_or(""),
            0,
            code,
        )?;
        let mut updated = customer.clone();
        goals::record_touch(
            due.rulebook,
            due.rule,
            &mut updated,
            &skipped.id,
            due.now,
            true,
        );
        updated.updated_at = due.now;
        let commit = SendCommit {
            message: skipped,
            customer: updated,
            expected_version: customer.version,
            timer: Some(due.timer.clone()),
            stats: one_each([Counter::Skipped(reason.clone())]),
        };
        match self.store.commit_send(&commit).await? {
            CommitOutcome::Committed => {}
            // Decided before (a repeated tick): the timer goes, nothing is counted twice.
            CommitOutcome::Duplicate => self.drop_timer(due.timer).await?,
            CommitOutcome::Conflict => return Ok(Attempt::Conflict),
        }
        tracing::info!(rule = %due.rule.id, customer = %customer.id, outcome = "skip", reason = %reason.code(), "decision");
        Ok(Attempt::Done(()))
    }

    async fn drop_timer(&self, timer: &Timer) -> Result<()> {
        self.store.delete_timers(std::slice::from_ref(timer)).await
    }
}

/// A due timer being decided, with its rule and the instant of the decision.
struct Due<'a> {
    timer: &'a Timer,
    rulebook: &'a Rulebook,
    rule: &'a Rule,
    now: DateTime<Utc>,
}

impl Due<'_> {
    /// The day the decision's stats count on.
    fn day(&self) -> NaiveDate {
        self.now.date_naive()
    }

    fn record(&self, outcome: Outcome) -> DecisionRecord {
        DecisionRecord {
            tenant: self.timer.tenant.clone(),
            customer_id: self.timer.customer_id.clone(),
            rule: self.timer.rule.clone(),
            occurrence: self.timer.occurrence.clone(),
            due: self.timer.due,
            decided_at: self.now,
            outcome,
        }
    }

    /// The message of this occurrence for `customer`, queued or skipped (with its own id, so
    /// a skip never takes the id a send of the occurrence would have).
    fn message(
        &self,
        customer: &Customer,
        status: MessageStatus,
        text: &str,
        segments: u32,
        reason: Option<String>,
    ) -> Result<Message> {
        let kind = if status == MessageStatus::Skipped {
            "s"
        } else {
            "m"
        };
        let dedupe_key = Message::dedupe_key(&self.rule.id, &customer.id, &self.timer.occurrence);
        Ok(Message {
            tenant: self.timer.tenant.clone(),
            id: MessageId::parse(message_id(kind, &dedupe_key))?,
            customer_id: customer.id.clone(),
            rule: self.rule.id.clone(),
            category: self.rule.category,
            occurrence: self.timer.occurrence.clone(),
            phone: customer.phone.clone(),
            text: text.to_string(),
            template: None,
            segments,
            status,
            reason,
            created_at: self.now,
            updated_at: self.now,
            provider: None,
            provider_id: None,
            sent_at: None,
            delivery: None,
            attempts: 0,
            next_attempt_at: None,
            lease_until: None,
            ignores_suppression: false,
        })
    }
}
