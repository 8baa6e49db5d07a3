//! Last-touch attribution of goal events.
#![allow(clippy::unwrap_used)]
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::domain::{CustomerId, EventId, PhoneNumber, TenantId};
use crate::rulebook;

const RULES: &str = r#"
tenant: acme
brand: Acme
timezone: Asia/Shanghai
rules:
  - id: winback
    category: marketing
    trigger: {inactive: order.paid, for: 30d}
    template: "We miss you"
    holdout: 10%
    goal: {event: order.paid, within: 7d, value: properties.amount}
  - id: vip-offer
    category: marketing
    trigger: {event: vip.joined}
    template: "A VIP offer"
    goal: {event: order.paid, within: 3d, where: "event.properties.amount >= 100"}
  - id: thanks
    category: transactional
    trigger: {event: order.paid}
    template: "Thank you"
"#;

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
}

fn customer() -> Customer {
    Customer::new(
        TenantId::parse("acme").unwrap(),
        CustomerId::parse("c1").unwrap(),
        PhoneNumber::parse("+8613800138000", None).unwrap(),
        at(1, 0),
    )
}

fn paid(id: &str, occurred_at: DateTime<Utc>, properties: serde_json::Value) -> Event {
    Event {
        tenant: TenantId::parse("acme").unwrap(),
        event_id: EventId::parse(id.to_string()).unwrap(),
        customer_id: CustomerId::parse("c1").unwrap(),
        event_type: "order.paid".into(),
        occurred_at,
        properties: serde_json::from_value(properties).unwrap(),
    }
}

fn touch(book: &Rulebook, customer: &mut Customer, rule: &str, at: DateTime<Utc>, held: bool) {
    let rule = book.rule(&RuleId::parse(rule).unwrap()).unwrap();
    let message = MessageId::parse(format!("m-{}-{}", rule.id, at.timestamp())).unwrap();
    record_touch(book, rule, customer, &message, at, held);
}

#[test]
fn a_goal_event_converts_the_last_touch_once_with_its_value() {
    let book = rulebook::parse(RULES, "rules.yaml").unwrap();
    let mut c = customer();
    touch(&book, &mut c, "winback", at(1, 10), false);
    touch(&book, &mut c, "winback", at(3, 10), false);
    let first = attribute(
        &book,
        &mut c,
        &paid("o1", at(4, 9), json!({"amount": 59.9})),
        at(4, 9),
    );
    let first = first.unwrap();
    assert_eq!(first.touched_at, at(3, 10), "the last touch converts");
    assert_eq!(first.value_milli, 59_900);
    assert!(!first.held_out);
    let row = first.stats();
    assert_eq!(row.day, at(3, 10).date_naive(), "counted on the text's day");
    assert_eq!(row.rule, "winback");
    assert_eq!(
        row.counters,
        Counters::from([
            ("converted".to_string(), 1),
            ("conversion_value_milli".to_string(), 59_900)
        ])
    );
    let second = attribute(
        &book,
        &mut c,
        &paid("o2", at(5, 9), json!({"amount": 10})),
        at(5, 9),
    );
    assert_eq!(
        second, None,
        "a text converts at most once, an older one not after it"
    );
}

#[test]
fn the_window_is_inclusive_and_events_before_the_text_do_not_count() {
    let book = rulebook::parse(RULES, "rules.yaml").unwrap();
    let mut c = customer();
    touch(&book, &mut c, "winback", at(1, 10), false);
    let early = paid("o0", at(1, 9), json!({}));
    assert_eq!(attribute(&book, &mut c, &early, at(8, 0)), None);
    let late = paid("o9", at(8, 10) + TimeDelta::seconds(1), json!({}));
    assert_eq!(attribute(&book, &mut c, &late, at(8, 11)), None);
    let edge = paid("o7", at(8, 10), json!({"amount": "12.5"}));
    let converted = attribute(&book, &mut c, &edge, at(8, 11)).unwrap();
    assert_eq!(
        converted.value_milli, 12_500,
        "a numeric text counts as its number"
    );
}

#[test]
fn held_out_customers_convert_against_the_moment_they_were_held_out() {
    let book = rulebook::parse(RULES, "rules.yaml").unwrap();
    let mut c = customer();
    touch(&book, &mut c, "winback", at(2, 10), true);
    let converted = attribute(&book, &mut c, &paid("o1", at(3, 0), json!({})), at(3, 0)).unwrap();
    assert!(converted.held_out);
    assert_eq!(converted.value_milli, 0, "no value property, no value");
    assert_eq!(
        converted.stats().counters,
        Counters::from([("held_out_converted".to_string(), 1)])
    );
}

#[test]
fn a_goal_filter_and_rules_without_goals_are_respected() {
    let book = rulebook::parse(RULES, "rules.yaml").unwrap();
    let mut c = customer();
    touch(&book, &mut c, "winback", at(1, 10), false);
    touch(&book, &mut c, "vip-offer", at(2, 10), false);
    touch(&book, &mut c, "thanks", at(2, 11), false);
    assert_eq!(c.touches.len(), 2, "a rule without a goal leaves no touch");
    // Too small for the VIP goal: the winback text before it converts.
    let small = attribute(
        &book,
        &mut c,
        &paid("o1", at(3, 0), json!({"amount": 20})),
        at(3, 0),
    );
    assert_eq!(small.unwrap().rule.as_str(), "winback");
    let big = attribute(
        &book,
        &mut c,
        &paid("o2", at(3, 1), json!({"amount": 150})),
        at(3, 1),
    );
    assert_eq!(big.unwrap().rule.as_str(), "vip-offer");
}

#[test]
fn touches_older_than_the_longest_window_are_forgotten_and_kept_in_order() {
    let book = rulebook::parse(RULES, "rules.yaml").unwrap();
    let mut c = customer();
    touch(&book, &mut c, "winback", at(1, 10), false);
    touch(&book, &mut c, "winback", at(5, 10), false);
    touch(&book, &mut c, "vip-offer", at(3, 10), false);
    let times: Vec<_> = c.touches.iter().map(|t| t.at).collect();
    assert_eq!(times, [at(1, 10), at(3, 10), at(5, 10)]);
    touch(&book, &mut c, "winback", at(12, 10), false);
    let times: Vec<_> = c.touches.iter().map(|t| t.at).collect();
    assert_eq!(
        times,
        [at(5, 10), at(12, 10)],
        "7 days is the longest window"
    );
    for day in 13..13 + crate::domain::TOUCHES_KEPT as u32 {
        touch(
            &book,
            &mut c,
            "winback",
            at(13, 0) + TimeDelta::minutes(day.into()),
            false,
        );
    }
    assert_eq!(c.touches.len(), crate::domain::TOUCHES_KEPT);
}
