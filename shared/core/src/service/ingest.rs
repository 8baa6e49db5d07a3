//! Ingesting customers and events: validate, store atomically, re-arm the customer's timers,
//! and decide right away the occurrences already due (event rules without delay).
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::goals::{self, Conversion};
use super::retry::{retry_on_conflict, Attempt};
use super::{DecisionRecord, Engine};
use crate::domain::{
    parse_zone, ConsentState, Customer, CustomerId, Event, EventId, PhoneNumber, TenantId, Timer,
    EVENT_RETENTION_DAYS,
};
use crate::error::{Error, Result};
use crate::ports::{
    CounterStore, CustomerStore, DueIndex, EventCommit, EventLog, EventOutcome, MessageStore,
    SuppressionList,
};
use crate::rulebook::{Rulebook, Trigger};
use crate::schedule::{self, attribute_date, ceil_to_minute};

/// Attempts at an optimistic write before giving up with a conflict.
const WRITE_ATTEMPTS: usize = 5;
/// How far in the future an event's `occurred_at` may be (clock skew of the caller).
const MAX_EVENT_SKEW_SECONDS: i64 = 300;

/// A customer as a caller sends it (PUT replaces profile fields; history is kept).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    pub id: String,
    pub phone: String,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// An event as a caller sends it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    pub event_id: String,
    pub customer_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Defaults to the time of ingestion.
    #[serde(default)]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestReport {
    /// The event id had been ingested before; nothing changed.
    pub duplicate: bool,
    pub timers_armed: usize,
    /// Decisions taken right away (occurrences already due).
    pub decisions: Vec<DecisionRecord>,
    /// The text (or holdout decision) this goal event converted, if any.
    pub conversion: Option<Conversion>,
}

impl<
        S: CustomerStore
            + EventLog
            + DueIndex
            + MessageStore
            + SuppressionList
            + CounterStore
            + ?Sized,
    > Engine<S>
{
    /// Validates and stores a customer, then re-arms its timers.
    #[tracing::instrument(name = "upsert_customer", skip_all, fields(tenant = %tenant))]
    pub async fn upsert_customer(
        &self,
        tenant: &TenantId,
        input: CustomerInput,
    ) -> Result<Customer> {
        let rulebook = self.rulebook(tenant)?.clone();
        let (id, phone) = validate_customer(&rulebook, &input)?;
        let now = self.now();
        let (id, phone, input) = (&id, &phone, &input);
        let stored = retry_on_conflict(WRITE_ATTEMPTS, || async move {
            let existing = self.store.get_customer(tenant, id).await?;
            let expected = existing.as_ref().map(|c| c.version);
            let phone_changed = existing.as_ref().is_none_or(|c| c.phone != *phone);
            let mut customer = existing
                .unwrap_or_else(|| Customer::new(tenant.clone(), id.clone(), phone.clone(), now));
            customer.phone = phone.clone();
            customer.region = input.region.clone();
            customer.timezone = input.timezone.clone();
            customer.locale = input.locale.clone();
            customer.attributes = input.attributes.clone();
            customer.updated_at = now;
            if phone_changed && self.store.is_suppressed(tenant, phone).await? {
                customer.consent.state = ConsentState::OptedOut;
                customer.consent.changed_at = Some(now);
                customer.consent.source = Some("suppression list".into());
            }
            let written = self.store.put_customer(&customer, expected).await;
            Ok(Attempt::of_write(written)?.map(|version| {
                customer.version = version;
                customer
            }))
        })
        .await?;
        let customer = stored.ok_or_else(|| changed_concurrently(id))?;
        self.rearm_state_timers(&rulebook, &customer, now).await?;
        Ok(customer)
    }

    /// Deletes a customer's profile, events, timers and messages: no text queued for it is
    /// sent afterwards. Its number stays suppressed if it was; counters stay.
    #[tracing::instrument(name = "delete_customer", skip_all, fields(tenant = %tenant, customer = %id))]
    pub async fn delete_customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<bool> {
        self.rulebook(tenant)?;
        self.store.delete_customer(tenant, id).await
    }

    /// Ingests one event idempotently (by `event_id`).
    #[tracing::instrument(name = "ingest_event", skip_all, fields(tenant = %tenant))]
    pub async fn ingest_event(&self, tenant: &TenantId, input: EventInput) -> Result<IngestReport> {
        let rulebook = self.rulebook(tenant)?.clone();
        let now = self.now();
        let event = validate_event(tenant, input, now)?;
        let (rulebook, event) = (&*rulebook, &event);
        // The customer and the timers the event armed, once recorded; None for an event id
        // seen before.
        let recorded = retry_on_conflict(WRITE_ATTEMPTS, || async move {
            let customer = self
                .store
                .get_customer(tenant, &event.customer_id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("customer {}", event.customer_id)))?;
            let expected = customer.version;
            let mut updated = customer;
            updated.record_activity(&event.event_type, event.occurred_at);
            updated.updated_at = now;
            let conversion = goals::attribute(rulebook, &mut updated, event, now);
            let timers = event_timers(rulebook, &mut updated, event, now);
            let commit = EventCommit {
                event: event.clone(),
                customer: updated,
                expected_version: expected,
                timers,
                stats: conversion.iter().map(Conversion::stats).collect(),
            };
            Ok(match self.store.record_event(&commit).await? {
                EventOutcome::Duplicate => Attempt::Done(None),
                EventOutcome::IdReused { event_type } => {
                    return Err(Error::Reused {
                        field: "event_id".into(),
                        message: event_id_reused(&event_type),
                    })
                }
                EventOutcome::Conflict => Attempt::Conflict,
                EventOutcome::Recorded => {
                    let mut customer = commit.customer;
                    customer.version = expected + 1;
                    Attempt::Done(Some((customer, commit.timers, conversion)))
                }
            })
        })
        .await?;
        let Some((customer, timers, conversion)) =
            recorded.ok_or_else(|| changed_concurrently(&event.customer_id))?
        else {
            return Ok(IngestReport {
                duplicate: true,
                ..Default::default()
            });
        };
        let mut report = IngestReport {
            timers_armed: timers.len(),
            conversion,
            ..Default::default()
        };
        report.timers_armed += self.rearm_state_timers(rulebook, &customer, now).await?;
        // Occurrences due within the current minute are decided now, through the scheduler's path.
        let this_minute = ceil_to_minute(now);
        let mut known = Some(customer);
        for timer in timers.into_iter().filter(|t| t.due <= this_minute) {
            // The customer as recorded is current only for the first decision.
            if let Some(decision) = self.process_timer(timer, known.take(), now).await? {
                report.decisions.push(decision);
            }
        }
        Ok(report)
    }
}

/// Why an event is refused whose id the customer used before for a `recorded` event of
/// another type (alone: a 409; in a batch: that item's error).
pub fn event_id_reused(recorded: &str) -> String {
    format!("this customer's event with this id is a `{recorded}` event; use a new event_id")
}

/// Timers, which decisions, events and consent changes all re-arm.
impl<S: DueIndex + ?Sized> Engine<S> {
    /// Recomputes the customer's state-driven timers (date, anniversary, inactive, every) and
    /// moves them in the due index. Returns how many were written.
    pub(crate) async fn rearm_state_timers(
        &self,
        rulebook: &Rulebook,
        customer: &Customer,
        now: DateTime<Utc>,
    ) -> Result<usize> {
        // Without state-driven rules there is nothing to arm, and a customer who has not
        // opted out keeps its event-driven timers: nothing to read. (Timers of rules removed
        // from the rulebook are dropped when due.)
        let state_driven = rulebook.rules.iter().any(|r| !r.trigger.is_event_driven());
        if !state_driven && !customer.is_opted_out() {
            return Ok(0);
        }
        // A due exactly at `now` belongs to a minute the scheduler may have finished already.
        let from = now + TimeDelta::seconds(1);
        let current = self
            .store
            .customer_timers(&customer.tenant, &customer.id)
            .await?;
        let desired = if customer.is_opted_out() {
            Vec::new()
        } else {
            state_timers(rulebook, customer, from)
        };
        let stale: Vec<Timer> = current
            .iter()
            .filter(|t| {
                let rule = rulebook.rule(&t.rule);
                let keep_event_driven =
                    rule.is_some_and(|r| r.trigger.is_event_driven()) && !customer.is_opted_out();
                !keep_event_driven && !desired.iter().any(|d| same_timer(d, t))
            })
            .cloned()
            .collect();
        let fresh: Vec<Timer> = desired
            .into_iter()
            .filter(|d| !current.iter().any(|t| same_timer(d, t)))
            .collect();
        self.store.delete_timers(&stale).await?;
        self.store.put_timers(&fresh).await?;
        Ok(fresh.len())
    }
}

fn changed_concurrently(customer: &CustomerId) -> Error {
    Error::Conflict(format!(
        "customer {customer} is being changed concurrently; retry"
    ))
}

fn same_timer(a: &Timer, b: &Timer) -> bool {
    a.rule == b.rule && a.occurrence == b.occurrence && a.due == b.due
}

/// The next occurrence of every state-driven rule whose condition holds.
fn state_timers(rulebook: &Rulebook, customer: &Customer, from: DateTime<Utc>) -> Vec<Timer> {
    let zone = customer.zone(rulebook.timezone);
    let context = std::cell::OnceCell::new();
    rulebook
        .rules
        .iter()
        .filter(|rule| !rule.trigger.is_event_driven())
        .filter_map(|rule| {
            let due = schedule::next_state_due(&rule.trigger, customer, zone, from)?;
            let context = context.get_or_init(|| customer.to_context());
            if !super::decide::condition_holds(rule, context, None, from) {
                return None;
            }
            Some(Timer {
                tenant: customer.tenant.clone(),
                customer_id: customer.id.clone(),
                rule: rule.id.clone(),
                occurrence: due.occurrence,
                due: due.due,
                event: None,
                deferrals: 0,
            })
        })
        .collect()
}

/// Timers armed by one event (event and count triggers); marks count rules as fired.
fn event_timers(
    rulebook: &Rulebook,
    customer: &mut Customer,
    event: &Event,
    now: DateTime<Utc>,
) -> Vec<Timer> {
    if customer.is_opted_out() {
        return Vec::new();
    }
    let mut timers = Vec::new();
    let customer_ctx = customer.to_context();
    let event_ctx = event.to_context();
    for rule in &rulebook.rules {
        let due = match &rule.trigger {
            Trigger::Event { filter, .. } => {
                let Some(due) = schedule::event_due(&rule.trigger, event, now) else {
                    continue;
                };
                if let Some(filter) = filter {
                    let matched = filter
                        .eval(&customer_ctx, Some(&event_ctx), now)
                        .unwrap_or_else(|err| {
                            tracing::warn!(rule = %rule.id, error = %err, "event filter failed");
                            false
                        });
                    if !matched {
                        continue;
                    }
                }
                due
            }
            Trigger::Count { .. } => {
                let Some(due) = schedule::count_due(&rule.trigger, &rule.id, customer, event, now)
                else {
                    continue;
                };
                due
            }
            _ => continue,
        };
        if !super::decide::condition_holds(rule, &customer_ctx, Some(&event_ctx), now) {
            continue;
        }
        if matches!(rule.trigger, Trigger::Count { .. }) {
            // One burst fires once: later events of it are counted after this mark.
            customer.marks.insert(rule.id.clone(), event.occurred_at);
        }
        timers.push(Timer {
            tenant: customer.tenant.clone(),
            customer_id: customer.id.clone(),
            rule: rule.id.clone(),
            occurrence: due.occurrence,
            due: ceil_to_minute(due.due),
            event: Some(event.clone()),
            deferrals: 0,
        });
    }
    timers
}

fn validate_event(tenant: &TenantId, input: EventInput, now: DateTime<Utc>) -> Result<Event> {
    let event_type = input.event_type.trim().to_string();
    if event_type.is_empty() || event_type.len() > 100 || event_type.chars().any(char::is_control) {
        return Err(Error::invalid(
            "type",
            "must be 1 to 100 printable characters",
        ));
    }
    let occurred_at = input.occurred_at.unwrap_or(now);
    if occurred_at > now + TimeDelta::seconds(MAX_EVENT_SKEW_SECONDS) {
        return Err(Error::invalid(
            "occurred_at",
            format!(
                "{} is in the future (at most {MAX_EVENT_SKEW_SECONDS} s ahead of the server clock)",
                occurred_at.to_rfc3339()
            ),
        ));
    }
    if occurred_at < now - TimeDelta::days(EVENT_RETENTION_DAYS) {
        return Err(Error::invalid(
            "occurred_at",
            format!(
                "{} is more than {EVENT_RETENTION_DAYS} days ago (events are kept \
                 {EVENT_RETENTION_DAYS} days)",
                occurred_at.to_rfc3339()
            ),
        ));
    }
    Ok(Event {
        tenant: tenant.clone(),
        event_id: EventId::parse(input.event_id)?,
        customer_id: CustomerId::parse(input.customer_id)?,
        event_type,
        occurred_at,
        properties: input.properties,
    })
}

/// Checks an event input without storing anything (for all-or-nothing batches).
pub(crate) fn validate_event_input(
    tenant: &TenantId,
    input: &EventInput,
    now: DateTime<Utc>,
) -> Result<()> {
    validate_event(tenant, input.clone(), now).map(|_| ())
}

/// Checks a customer input without storing anything (for all-or-nothing batch imports).
pub fn validate_customer_input(rulebook: &Rulebook, input: &CustomerInput) -> Result<()> {
    validate_customer(rulebook, input).map(|_| ())
}

fn validate_customer(
    rulebook: &Rulebook,
    input: &CustomerInput,
) -> Result<(CustomerId, PhoneNumber)> {
    let id = CustomerId::parse(input.id.clone())?;
    let phone = PhoneNumber::parse(&input.phone, rulebook.phone_region.as_deref())?;
    if let Some(zone) = &input.timezone {
        parse_zone(zone)?;
    }
    check_trigger_attributes(rulebook, &input.attributes)?;
    Ok((id, phone))
}

/// Attributes that date-based triggers read must parse as dates, or the rule would silently
/// never fire for this customer.
fn check_trigger_attributes(rulebook: &Rulebook, attributes: &Map<String, Value>) -> Result<()> {
    for rule in &rulebook.rules {
        let attribute = match &rule.trigger {
            Trigger::Date { attribute, .. }
            | Trigger::Anniversary { attribute, .. }
            | Trigger::Every { attribute, .. } => attribute,
            _ => continue,
        };
        if let Some(value) = attributes.get(attribute) {
            if !value.is_null() && attribute_date(value).is_none() {
                return Err(Error::invalid(
                    format!("attributes.{attribute}"),
                    format!("{value} is not a date (YYYY-MM-DD) or an RFC 3339 timestamp"),
                ));
            }
        }
    }
    Ok(())
}
