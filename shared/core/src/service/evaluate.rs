//! The evaluate tick: every whole minute since the checkpoint, decide the due timers.
//! Safe to run twice for the same minute: sends are deduplicated by key, timer removal and
//! checkpoint moves are idempotent.
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::HashMap;

use super::{message_id, DecisionRecord, Engine, Outcome};
use crate::domain::{
    Customer, CustomerId, Message, MessageId, MessageStatus, SentEntry, TenantId, Timer,
};
use crate::error::{Error, Result};
use crate::ports::{
    counters, CommitOutcome, CounterStore, Counters, CustomerStore, DueIndex, MessageStore,
    SendCommit,
};
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
        let Ok(rulebook) = self.rulebook(&timer.tenant).cloned() else {
            tracing::warn!(tenant = %timer.tenant, "timer of a tenant without rulebook dropped");
            self.store
                .delete_timers(std::slice::from_ref(&timer))
                .await?;
            return Ok(None);
        };
        let Some(rule) = rulebook.rule(&timer.rule) else {
            tracing::info!(rule = %timer.rule, "timer of a removed rule dropped");
            self.store
                .delete_timers(std::slice::from_ref(&timer))
                .await?;
            return Ok(None);
        };
        let mut known = known.filter(|c| c.tenant == timer.tenant && c.id == timer.customer_id);
        for _ in 0..DECIDE_ATTEMPTS {
            let customer = match known.take() {
                Some(customer) => Some(customer),
                None => {
                    self.store
                        .get_customer(&timer.tenant, &timer.customer_id)
                        .await?
                }
            };
            let Some(customer) = customer else {
                self.store
                    .delete_timers(std::slice::from_ref(&timer))
                    .await?;
                return Ok(None);
            };
            let outcome =
                super::decide::decide(&rulebook, rule, &customer, timer.event.as_ref(), now);
            let dedupe_key = Message::dedupe_key(&rule.id, &customer.id, &timer.occurrence);
            let record = |outcome: Outcome| DecisionRecord {
                tenant: timer.tenant.clone(),
                customer_id: timer.customer_id.clone(),
                rule: timer.rule.clone(),
                occurrence: timer.occurrence.clone(),
                due: timer.due,
                decided_at: now,
                outcome,
            };
            let message =
                |status: MessageStatus, text: &str, segments: u32, reason: Option<String>| {
                    let kind = if status == MessageStatus::Skipped {
                        "s"
                    } else {
                        "m"
                    };
                    Ok::<_, Error>(Message {
                        tenant: timer.tenant.clone(),
                        id: MessageId::parse(message_id(kind, &dedupe_key))?,
                        customer_id: customer.id.clone(),
                        rule: rule.id.clone(),
                        category: rule.category,
                        occurrence: timer.occurrence.clone(),
                        phone: customer.phone.clone(),
                        text: text.to_string(),
                        segments,
                        status,
                        reason,
                        created_at: now,
                        updated_at: now,
                        provider_id: None,
                        attempts: 0,
                        next_attempt_at: None,
                        ignores_suppression: false,
                    })
                };
            match &outcome {
                Outcome::Send { text, segments } => {
                    let mut updated = customer.clone();
                    let horizon = rulebook.policy.ledger_horizon().negate();
                    let keep_since = horizon.add_to(now).unwrap_or(now);
                    let entry = SentEntry {
                        at: now,
                        category: rule.category,
                        rule: rule.id.clone(),
                    };
                    updated.record_send(entry, keep_since);
                    updated.updated_at = now;
                    let commit = SendCommit {
                        message: message(MessageStatus::Queued, text, *segments, None)?,
                        customer: updated,
                        expected_version: customer.version,
                        timer: Some(timer.clone()),
                        stats: Counters::from([(counters::QUEUED.to_string(), 1)]),
                    };
                    match self.store.commit_send(&commit).await? {
                        CommitOutcome::Committed => {
                            tracing::info!(rule = %rule.id, customer = %customer.id, outcome = "send", "decision");
                            // Recurring triggers (anniversary, every) arm their next occurrence.
                            // A send changes nothing other timers depend on, so the rest is
                            // left alone (it would cost a Query, a BatchGet and a write).
                            if rule.trigger.recurs() {
                                let mut customer = commit.customer;
                                customer.version = commit.expected_version + 1;
                                self.rearm_state_timers(&rulebook, &customer, now).await?;
                            }
                            return Ok(Some(record(outcome)));
                        }
                        CommitOutcome::Duplicate => {
                            let skipped = Outcome::Skip {
                                reason: "duplicate".into(),
                                text: Some(text.clone()),
                            };
                            self.store
                                .delete_timers(std::slice::from_ref(&timer))
                                .await?;
                            let stats = Counters::from([(
                                format!("{}duplicate", counters::SKIPPED_PREFIX),
                                1,
                            )]);
                            self.store
                                .add_stats(
                                    &timer.tenant,
                                    now.date_naive(),
                                    rule.id.as_str(),
                                    &stats,
                                )
                                .await?;
                            tracing::info!(rule = %rule.id, customer = %customer.id, outcome = "skip", reason = "duplicate", "decision");
                            return Ok(Some(record(skipped)));
                        }
                        CommitOutcome::Conflict => continue,
                    }
                }
                Outcome::Defer { until, reason, .. } => {
                    let due =
                        ceil_to_minute(*until).max(ceil_to_minute(now + TimeDelta::seconds(1)));
                    let mut moved = timer.clone();
                    moved.deferrals += 1;
                    self.store.reschedule_timer(&moved, due).await?;
                    let stats = Counters::from([
                        (counters::DEFERRED.to_string(), 1),
                        (format!("deferred_{reason}"), 1),
                    ]);
                    self.store
                        .add_stats(&timer.tenant, now.date_naive(), rule.id.as_str(), &stats)
                        .await?;
                    tracing::info!(rule = %rule.id, customer = %customer.id, outcome = "defer", reason = %reason, until = %due, "decision");
                    return Ok(Some(record(outcome)));
                }
                Outcome::Skip { reason, text } => {
                    let text = text.as_deref().unwrap_or("");
                    let skipped = message(MessageStatus::Skipped, text, 0, Some(reason.clone()))?;
                    let stats =
                        Counters::from([(format!("{}{reason}", counters::SKIPPED_PREFIX), 1)]);
                    self.store
                        .record_skip(&skipped, Some(&timer), &stats)
                        .await?;
                    tracing::info!(rule = %rule.id, customer = %customer.id, outcome = "skip", reason = %reason, "decision");
                    return Ok(Some(record(outcome)));
                }
            }
        }
        Err(Error::Conflict(format!(
            "customer {} kept changing while deciding",
            timer.customer_id
        )))
    }
}
