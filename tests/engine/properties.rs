//! Properties of whole simulated runs over the real engine: whatever customers, zones, events
//! and opt-outs, nudge never texts an opted-out number, never breaks a cap, never sends
//! outside the window and never sends a rule occurrence twice.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use chrono::{DateTime, Datelike, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use nudge_core::domain::{Category, MessageStatus};
use nudge_core::ports::MessageStore;
use nudge_core::rulebook;
use nudge_core::service::{CustomerInput, EventInput, Outcome};
use nudge_local::simulation::Simulation;
use proptest::prelude::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};

const RULES: &str = r#"
tenant: acme
brand: 阿克米
timezone: Asia/Shanghai
phone_region: CN
holidays: [2026-03-09]
attributes: [name, joined_at]
policy:
  window: {start: "09:00", end: "20:00"}
  transactional: {window: {start: "08:00", end: "22:00"}}
  marketing: {weekdays_only: true, skip_holidays: true, per_week: 2, per_30_days: 3, min_gap: 2d, on_cap: skip}
  care: {per_week: 2, on_cap: defer}
  same_rule_min_gap: 72h
rules:
  - id: promo
    category: marketing
    trigger: {event: promo.eligible}
    template: "{{name}}您好，会员日全场9折。"
  - id: promo-later
    category: marketing
    trigger: {event: promo.eligible, delay: 1d}
    template: "{{name}}您好，会员日最后一天。"
  - id: care-ticket
    category: care
    trigger: {event: ticket.closed, delay: 2h}
    template: "{{name}}您好，工单已处理完毕。"
  - id: receipt
    category: transactional
    trigger: {event: order.paid}
    template: "{{name}}您好，订单已付款。"
  - id: joined-week
    category: care
    trigger: {date: joined_at, offset: 7d, at: "02:30"}
    template: "{{name}}您好，加入满一周。"
"#;

const ZONES: [&str; 4] = [
    "Asia/Shanghai",
    "America/New_York",
    "Europe/Berlin",
    "America/Los_Angeles",
];
const KINDS: [&str; 4] = ["promo.eligible", "ticket.closed", "order.paid", "sms.reply"];

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
}

#[derive(Debug, Clone)]
struct Scenario {
    zones: Vec<usize>,
    joined_day: Vec<u32>,
    events: Vec<(usize, usize, i64)>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..5).prop_flat_map(|n| {
        (
            proptest::collection::vec(0usize..ZONES.len(), n),
            proptest::collection::vec(0u32..10, n),
            proptest::collection::vec((0..n, 0..KINDS.len(), 0i64..(16 * 24 * 60)), 0..40),
        )
            .prop_map(|(zones, joined_day, events)| Scenario {
                zones,
                joined_day,
                events,
            })
    })
}

fn within(window: (u32, u32), local: NaiveTime) -> bool {
    let start = NaiveTime::from_hms_opt(window.0, 0, 0).unwrap();
    let end = NaiveTime::from_hms_opt(window.1, 0, 0).unwrap();
    local >= start && local < end
}

fn run(s: Scenario) -> Result<(), TestCaseError> {
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let customers: Vec<CustomerInput> = s
        .zones
        .iter()
        .enumerate()
        .map(|(i, z)| {
            serde_json::from_value(json!({
                "id": format!("c{i}"), "phone": format!("1380013800{i}"), "timezone": ZONES[*z],
                "attributes": {"name": "王芳", "joined_at": format!("2026-03-{:02}", 1 + s.joined_day[i])}
            }))
            .unwrap()
        })
        .collect();
    let mut events: Vec<EventInput> = s
        .events
        .iter()
        .enumerate()
        .map(|(n, (c, k, minute))| {
            serde_json::from_value(json!({
                "event_id": format!("e{n}"), "customer_id": format!("c{c}"), "type": KINDS[*k],
                "occurred_at": start() + TimeDelta::minutes(*minute), "properties": {"text": "退订"}
            }))
            .unwrap()
        })
        .collect();
    events.sort_by_key(|e| e.occurred_at);
    let opted_out_at: HashMap<String, DateTime<Utc>> = events
        .iter()
        .filter(|e| e.event_type == "sms.reply")
        .fold(HashMap::new(), |mut first, e| {
            first
                .entry(e.customer_id.clone())
                .or_insert(e.occurred_at.unwrap());
            first
        });
    let (result, sent_messages) = runtime.block_on(async {
        let sim = Simulation::new(book, start()).unwrap();
        sim.load_customers(customers).await.unwrap();
        let result = sim.run(events, 18, |_, _| {}).await.unwrap();
        let mut sent = Vec::new();
        for i in 0..s.zones.len() {
            let id = nudge_core::domain::CustomerId::parse(format!("c{i}")).unwrap();
            let tenant = nudge_core::domain::TenantId::parse("acme").unwrap();
            sent.extend(
                sim.engine()
                    .store()
                    .customer_messages(&tenant, &id, 1000)
                    .await
                    .unwrap(),
            );
        }
        (result, sent)
    });

    let mut seen = HashSet::new();
    let mut marketing: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for d in result
        .decisions
        .iter()
        .filter(|d| matches!(d.outcome, Outcome::Send { .. }))
    {
        let customer = d.customer_id.as_str();
        // Never the same rule occurrence twice.
        prop_assert!(seen.insert((d.rule.clone(), d.customer_id.clone(), d.occurrence.clone())));
        // Never after an opt-out.
        if let Some(out) = opted_out_at.get(customer) {
            prop_assert!(
                d.decided_at < *out,
                "sent {} to {customer} after opting out",
                d.rule
            );
        }
        // Never outside the window (local time of the customer), marketing only on workdays.
        let index: usize = customer[1..].parse().unwrap();
        let zone: Tz = ZONES[s.zones[index]].parse().unwrap();
        let local = d.decided_at.with_timezone(&zone);
        let rule = d.rule.as_str();
        let window = if rule == "receipt" { (8, 22) } else { (9, 20) };
        prop_assert!(within(window, local.time()), "{rule} at {local}");
        if rule.starts_with("promo") {
            prop_assert!(
                !matches!(local.weekday(), Weekday::Sat | Weekday::Sun),
                "{rule} on {local}"
            );
            prop_assert!(
                local.date_naive() != chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()
            );
            marketing
                .entry(customer.to_string())
                .or_default()
                .push(d.decided_at);
        }
    }
    // Never above the caps: 2 per rolling week, 2 days apart.
    for times in marketing.values_mut() {
        times.sort();
        for (i, t) in times.iter().enumerate() {
            let in_week = times[i..]
                .iter()
                .take_while(|u| **u - *t < TimeDelta::days(7))
                .count();
            prop_assert!(in_week <= 2, "{in_week} marketing texts within a week");
            if let Some(next) = times.get(i + 1) {
                prop_assert!(*next - *t >= TimeDelta::days(2));
            }
        }
    }
    // What the provider actually got: nothing to an opted-out number but the confirmation.
    for m in sent_messages
        .iter()
        .filter(|m| m.status == MessageStatus::Sent)
    {
        if let Some(out) = opted_out_at.get(m.customer_id.as_str()) {
            if !m.ignores_suppression {
                prop_assert!(
                    m.updated_at < *out,
                    "{} reached {} after opt-out",
                    m.rule,
                    m.customer_id
                );
            }
        }
        prop_assert!(m.category != Category::Marketing || m.text.ends_with("回复TD退订"));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn simulated_runs_respect_every_guard_rail(s in scenario()) {
        run(s)?;
    }
}
