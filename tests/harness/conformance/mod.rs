//! The store conformance suite: every store adapter must pass all of it, so the embedded
//! store behaves exactly like production. The checks are grouped by store role, one module
//! each; every check takes a fresh, empty store.
//!
//! A check is registered in [`conformance_list!`]: `conformance_tests!(fresh())` runs every
//! registered check as a test, and a test of this crate fails when a check is written but not
//! registered, so none can silently never run.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

pub mod api_keys;
pub mod counters;
pub mod customers;
pub mod due_index;
pub mod events;
pub mod inbound;
pub mod messages;
pub mod signatures;
pub mod suppressions;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nudge_core::domain::{
    Category, Customer, CustomerId, Event, EventId, Message, MessageId, MessageStatus, PhoneNumber,
    RuleId, SentEntry, TenantId, Timer,
};
use nudge_core::ports::{
    Claim, CommitOutcome, Counters, EventCommit, EventOutcome, MessageState, SendCommit, StatsRow,
    Store,
};
use nudge_core::Error;
use serde_json::json;

pub fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
}

/// A day of the month the fixtures live in (the day of [`at`]).
pub fn day(d: u32) -> NaiveDate {
    at(d, 0, 0).date_naive()
}

pub fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

pub fn customer(id: &str, phone: &str) -> Customer {
    let mut c = Customer::new(
        tenant(),
        CustomerId::parse(id).unwrap(),
        PhoneNumber::parse(phone, Some("CN")).unwrap(),
        at(1, 0, 0),
    );
    c.attributes.insert("name".into(), json!("王芳"));
    c
}

pub fn event(id: &str, customer: &str, at: DateTime<Utc>) -> Event {
    Event {
        tenant: tenant(),
        event_id: EventId::parse(id).unwrap(),
        customer_id: CustomerId::parse(customer).unwrap(),
        event_type: "order.paid".into(),
        occurred_at: at,
        properties: Default::default(),
    }
}

/// Recording `event` for `customer` as read (its activity updated, no timers).
pub fn event_commit(customer: &Customer, event: Event) -> EventCommit {
    let mut updated = customer.clone();
    updated.record_activity(&event.event_type, event.occurred_at);
    EventCommit {
        event,
        customer: updated,
        expected_version: customer.version,
        timers: vec![],
        stats: vec![],
    }
}

pub fn timer(customer: &str, rule: &str, occurrence: &str, due: DateTime<Utc>) -> Timer {
    Timer {
        tenant: tenant(),
        customer_id: CustomerId::parse(customer).unwrap(),
        rule: RuleId::parse(rule).unwrap(),
        occurrence: occurrence.into(),
        due,
        event: None,
        deferrals: 0,
    }
}

pub fn message(c: &Customer, rule: &str, occurrence: &str, now: DateTime<Utc>) -> Message {
    let key = Message::dedupe_key(&RuleId::parse(rule).unwrap(), &c.id, occurrence);
    Message {
        tenant: tenant(),
        id: MessageId::parse(nudge_core::service::message_id("m", &key)).unwrap(),
        customer_id: c.id.clone(),
        rule: RuleId::parse(rule).unwrap(),
        category: Category::Marketing,
        occurrence: occurrence.into(),
        phone: c.phone.clone(),
        text: "【阿克米】hello 回复TD退订".into(),
        template: None,
        segments: 1,
        status: MessageStatus::Queued,
        reason: None,
        created_at: now,
        updated_at: now,
        provider: None,
        provider_id: None,
        sent_at: None,
        delivery: None,
        attempts: 0,
        next_attempt_at: None,
        lease_until: None,
        ignores_suppression: false,
    }
}

pub(crate) fn send_commit(
    c: &Customer,
    rule: &str,
    occurrence: &str,
    now: DateTime<Utc>,
) -> SendCommit {
    let mut updated = c.clone();
    updated.record_send(
        SentEntry {
            at: now,
            category: Category::Marketing,
            rule: RuleId::parse(rule).unwrap(),
        },
        now - chrono::TimeDelta::days(30),
    );
    SendCommit {
        message: message(c, rule, occurrence, now),
        customer: updated,
        expected_version: c.version,
        timer: None,
        stats: Counters::from([("queued".to_string(), 1)]),
    }
}

pub async fn stored(store: &dyn Store, c: &Customer) -> Customer {
    let version = store.put_customer(c, None).await.unwrap();
    let mut c = c.clone();
    c.version = version;
    c
}

pub(crate) async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}

/// The message of `commit` as a sender claims it: one more attempt, status sending, held
/// for five minutes.
pub(crate) fn claimed(read: &Message, now: DateTime<Utc>) -> Message {
    let mut m = read.clone();
    m.status = MessageStatus::Sending;
    m.attempts += 1;
    m.updated_at = now;
    m.next_attempt_at = None;
    m.lease_until = Some(now + chrono::TimeDelta::minutes(5));
    m
}

/// The registered checks, by role: the one list both the tests and [`REGISTERED`] expand.
#[macro_export]
macro_rules! conformance_list {
    ($($mode:tt)*) => {
        $crate::conformance_expand! {$($mode)*;
            customers: [customers_round_trip_with_versions, customers_are_read_together, deleting_a_customer_cancels_and_forgets_its_texts],
            events: [events_are_idempotent_and_atomic, event_ids_are_the_customers_own],
            due_index: [the_due_index_and_checkpoint, many_large_timers_in_one_minute_are_all_returned],
            messages: [a_dedupe_key_is_sent_once, concurrent_sends_cannot_both_pass_the_ledger, message_transitions_are_conditional, claims_hold_only_for_the_version_read, claims_check_suppression, results_are_recorded_with_their_stats, skips_are_recorded_once_and_consume_the_timer, expired_leases_are_listed_until_settled, a_sender_whose_lease_was_taken_back_cannot_write, sent_texts_are_found_by_provider_id_and_receipts_count_on_the_send_day, sent_texts_await_their_receipt_in_send_order_until_settled],
            suppressions: [suppression_outlives_the_customer],
            counters: [stats_add_up_per_day_and_rule, reply_texts_are_counted_per_day_and_ranked],
            api_keys: [api_keys_are_found_by_id_and_revocable],
            inbound: [inbound_ids_are_recorded_once],
            signatures: [a_signature_is_accepted_once_until_it_ends]}
    };
}

/// Expands the list of checks: `tests FRESH` (a test module per role) or `names`.
#[macro_export]
macro_rules! conformance_expand {
    (tests $fresh:expr; $($role:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        $(
            mod $role {
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test]
                    async fn $name() {
                        let store = $fresh.await;
                        $crate::conformance::$role::$name(&*store).await;
                    }
                )*
            }
        )*
    };
    (names; $($role:ident: [$($name:ident),* $(,)?]),* $(,)?) => {
        &[$($(concat!(stringify!($role), "::", stringify!($name))),*),*]
    };
}

/// Runs every registered check as a test, each on a fresh store from `fresh`.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_list! {tests $fresh}
    };
}

/// Every registered check, as `role::check`.
pub const REGISTERED: &[&str] = conformance_list!(names);

#[cfg(test)]
mod tests {
    use super::REGISTERED;

    /// Every `pub async fn` of every role module is a registered check, and nothing else is.
    #[test]
    fn every_check_is_registered() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/conformance");
        let mut written = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let role = path.file_stem().unwrap().to_str().unwrap().to_string();
            // This file holds the fixtures and the list, not checks.
            if role == "mod" {
                continue;
            }
            let source = std::fs::read_to_string(&path).unwrap();
            for line in source.lines() {
                if let Some(rest) = line.strip_prefix("pub async fn ") {
                    let name = rest.split('(').next().unwrap();
                    written.push(format!("{role}::{name}"));
                }
            }
        }
        written.sort();
        let mut registered: Vec<String> = REGISTERED.iter().map(|s| s.to_string()).collect();
        registered.sort();
        assert_eq!(
            written, registered,
            "conformance checks written vs registered"
        );
    }
}
