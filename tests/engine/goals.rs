//! Goals end to end on the embedded store: texts and holdout decisions of a rule with a goal
//! are converted by later goal events (last touch, once, inside the window), and the KPI
//! report counts both groups and their lift.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use nudge_core::clock::ManualClock;
use nudge_core::domain::TenantId;
use nudge_core::rulebook;
use nudge_core::service::{CustomerInput, Engine, EventInput};
use nudge_sqlite::SqliteStore;
use serde_json::json;
use std::sync::Arc;

const RULES: &str = r#"
tenant: acme
brand: ACME
timezone: UTC
locale: en-US
rules:
  - id: cart-reminder
    category: care
    trigger: {event: cart.abandoned}
    template: "Your cart is waiting."
    holdout: 50%
    goal: {event: order.paid, within: 7d, value: properties.amount}
"#;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 9, 12, 0, 0).unwrap()
}

async fn event(engine: &Engine<SqliteStore>, id: &str, n: u32, kind: &str, amount: f64) -> bool {
    let input: EventInput = serde_json::from_value(json!({
        "event_id": id, "customer_id": format!("c{n}"), "type": kind,
        "occurred_at": engine.now(), "properties": {"amount": amount}
    }))
    .unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    let report = engine.ingest_event(&tenant, input).await.unwrap();
    report.conversion.is_some()
}

#[tokio::test]
async fn goal_events_convert_texts_and_holdouts_once_and_the_report_measures_the_lift() {
    let book = rulebook::parse(RULES, "acme.yaml").unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let engine = Engine::new(store, clock.clone(), vec![book]);
    let tenant = TenantId::parse("acme").unwrap();
    for n in 0..200 {
        let customer: CustomerInput = serde_json::from_value(json!({
            "id": format!("c{n}"), "phone": format!("+1425555{n:04}")
        }))
        .unwrap();
        engine.upsert_customer(&tenant, customer).await.unwrap();
        assert!(!event(&engine, &format!("cart{n}"), n, "cart.abandoned", 0.0).await);
    }
    // A day later every third customer pays; a repeated delivery of the event counts once.
    clock.set(start() + TimeDelta::days(1));
    let mut converted = 0;
    for n in (0..200).step_by(3) {
        assert!(event(&engine, &format!("pay{n}"), n, "order.paid", 25.5).await);
        assert!(!event(&engine, &format!("pay{n}"), n, "order.paid", 25.5).await);
        converted += 1;
    }
    // A second purchase converts nothing more; one after the window neither.
    assert!(!event(&engine, "pay0-again", 0, "order.paid", 10.0).await);
    clock.set(start() + TimeDelta::days(8));
    assert!(!event(&engine, "late1", 1, "order.paid", 10.0).await);

    let day = start().date_naive();
    let report = engine
        .kpi_report(&tenant, day, day + TimeDelta::days(8), None)
        .await
        .unwrap();
    let rule = &report.rules[0];
    assert_eq!(rule.rule, "cart-reminder");
    assert_eq!(rule.goal.as_deref(), Some("order.paid within 7d"));
    let k = &rule.total;
    assert_eq!(k.texted + k.held_out, 200);
    assert!(
        k.held_out > 60 && k.held_out < 140,
        "about half held out: {}",
        k.held_out
    );
    assert_eq!(k.converted + k.held_out_converted, converted);
    assert!(
        (k.conversion_value + k.held_out_conversion_value - 25.5 * converted as f64).abs() < 1e-6
    );
    assert_eq!(
        rule.days.len(),
        1,
        "conversions count on the day of the text"
    );
    assert_eq!(rule.days[0].day, day);
    let lift = rule.lift.as_ref().expect("both groups have customers");
    assert!(
        lift.absolute.abs() < 0.2,
        "same behaviour in both groups: {lift:?}"
    );
    assert_eq!(report.total, rule.total);
    let csv = report.to_csv();
    assert!(csv.starts_with("rule,day,texted,sent,"), "{csv}");
    assert!(csv.contains("cart-reminder,2026-03-09,"), "{csv}");
    let unknown = engine.kpi_report(&tenant, day, day, Some("nope")).await;
    assert!(
        matches!(unknown, Err(nudge_core::Error::Invalid { ref field, .. }) if field == "rule")
    );
}
