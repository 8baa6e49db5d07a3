use serde_json::json;

use super::{customer, event, span, utc};
use crate::domain::{Customer, RuleId, Span};
use crate::rulebook::Trigger;
use crate::schedule::{count_due, event_due, Due};

fn on_paid(delay: &str) -> Trigger {
    Trigger::Event {
        event_type: "order.paid".into(),
        delay: span(delay),
        filter: None,
    }
}

fn viewed_3_in_7d(delay: Span) -> Trigger {
    Trigger::Count {
        event_type: "product.viewed".into(),
        times: 3,
        within: span("7d"),
        delay,
    }
}

fn due(occurrence: &str, at: &str) -> Option<Due> {
    Some(Due {
        occurrence: occurrence.into(),
        due: utc(at),
    })
}

#[test]
fn event_trigger_is_delayed_but_never_in_the_past() {
    let cases = [
        // 12:00 + 30m, ingested promptly.
        (
            "30m",
            "2026-05-01T12:00:00Z",
            "2026-05-01T12:00:05Z",
            due("e1", "2026-05-01T12:30:00Z"),
        ),
        // Arrived after the delay elapsed: due now, rounded up (13:10:20 → 13:11).
        (
            "30m",
            "2026-05-01T12:00:00Z",
            "2026-05-01T13:10:20Z",
            due("e1", "2026-05-01T13:11:00Z"),
        ),
        // 12:00:10 + 30m = 12:30:10 → 12:31.
        (
            "30m",
            "2026-05-01T12:00:10Z",
            "2026-05-01T12:00:11Z",
            due("e1", "2026-05-01T12:31:00Z"),
        ),
        (
            "0s",
            "2026-05-01T12:00:00Z",
            "2026-05-01T12:00:00Z",
            due("e1", "2026-05-01T12:00:00Z"),
        ),
        (
            "1d",
            "2026-05-01T12:00:00Z",
            "2026-05-01T12:00:00Z",
            due("e1", "2026-05-02T12:00:00Z"),
        ),
    ];
    for (delay, occurred, now, expected) in cases {
        let paid = event("e1", "order.paid", occurred);
        assert_eq!(
            event_due(&on_paid(delay), &paid, utc(now)),
            expected,
            "{delay} {occurred} {now}"
        );
    }
}

#[test]
fn event_trigger_ignores_other_types_and_triggers() {
    let now = utc("2026-05-01T12:00:00Z");
    let refunded = event("e1", "order.refunded", "2026-05-01T12:00:00Z");
    assert_eq!(event_due(&on_paid("30m"), &refunded, now), None);
    let viewed = event("e2", "product.viewed", "2026-05-01T12:00:00Z");
    assert_eq!(event_due(&viewed_3_in_7d(Span::ZERO), &viewed, now), None);
}

/// Records `at` as a view and asks whether the rule fires for it.
fn view(who: &mut Customer, trigger: &Trigger, id: &str, at: &str) -> Option<Due> {
    let seen = event(id, "product.viewed", at);
    who.record_activity("product.viewed", seen.occurred_at);
    count_due(
        trigger,
        &RuleId::parse("browse-3").unwrap(),
        who,
        &seen,
        seen.occurred_at,
    )
}

fn mark(who: &mut Customer, at: &str) {
    who.marks
        .insert(RuleId::parse("browse-3").unwrap(), utc(at));
}

#[test]
fn count_fires_on_the_third_view_and_once_per_burst() {
    let rule = viewed_3_in_7d(Span::ZERO);
    let mut who = customer(None, "name", json!("Li"));
    assert_eq!(view(&mut who, &rule, "v1", "2026-05-01T10:00:00Z"), None);
    assert_eq!(view(&mut who, &rule, "v2", "2026-05-03T10:00:00Z"), None);
    assert_eq!(
        view(&mut who, &rule, "v3", "2026-05-05T10:00:00Z"),
        due("v3", "2026-05-05T10:00:00Z")
    );
    // The service marks the rule; the 4th view of the same burst counts only itself.
    mark(&mut who, "2026-05-05T10:00:00Z");
    assert_eq!(view(&mut who, &rule, "v4", "2026-05-06T10:00:00Z"), None);
    assert_eq!(view(&mut who, &rule, "v5", "2026-05-07T10:00:00Z"), None);
    // Three views after the mark make a new burst.
    assert_eq!(
        view(&mut who, &rule, "v6", "2026-05-08T10:00:00Z"),
        due("v6", "2026-05-08T10:00:00Z")
    );
}

#[test]
fn count_ignores_views_outside_the_window() {
    let rule = viewed_3_in_7d(Span::ZERO);
    let mut who = customer(None, "name", json!("Li"));
    assert_eq!(view(&mut who, &rule, "v1", "2026-04-01T10:00:00Z"), None);
    assert_eq!(view(&mut who, &rule, "v2", "2026-04-20T10:00:00Z"), None);
    // Window (04-24T10:00, 05-01T10:00] holds only v3.
    assert_eq!(view(&mut who, &rule, "v3", "2026-05-01T10:00:00Z"), None);

    // The window's start is exclusive: exactly 7 days earlier does not count…
    let mut edge = customer(None, "name", json!("Li"));
    view(&mut edge, &rule, "w1", "2026-04-24T10:00:00Z");
    view(&mut edge, &rule, "w2", "2026-04-28T10:00:00Z");
    assert_eq!(view(&mut edge, &rule, "w3", "2026-05-01T10:00:00Z"), None);
    // …one second later does.
    let mut inside = customer(None, "name", json!("Li"));
    view(&mut inside, &rule, "w1", "2026-04-24T10:00:01Z");
    view(&mut inside, &rule, "w2", "2026-04-28T10:00:00Z");
    assert_eq!(
        view(&mut inside, &rule, "w3", "2026-05-01T10:00:00Z"),
        due("w3", "2026-05-01T10:00:00Z")
    );
}

#[test]
fn count_handles_late_and_delayed_events() {
    let rule = viewed_3_in_7d(span("1h"));
    let mut who = customer(None, "name", json!("Li"));
    view(&mut who, &rule, "v1", "2026-05-01T10:00:00Z");
    view(&mut who, &rule, "v2", "2026-05-02T10:00:00Z");
    // Delay 1h after the third view.
    assert_eq!(
        view(&mut who, &rule, "v3", "2026-05-03T10:00:00Z"),
        due("v3", "2026-05-03T11:00:00Z")
    );
    mark(&mut who, "2026-05-03T10:00:00Z");
    // A late view older than the mark belongs to the burst that already fired.
    assert_eq!(view(&mut who, &rule, "late", "2026-05-02T12:00:00Z"), None);

    // Ingested two days late: due now (rounded up), not in the past.
    let mut slow = customer(None, "name", json!("Li"));
    for (id, at) in [
        ("s1", "2026-05-01T10:00:00Z"),
        ("s2", "2026-05-01T11:00:00Z"),
        ("s3", "2026-05-01T12:00:00Z"),
    ] {
        slow.record_activity("product.viewed", utc(at));
        let seen = event(id, "product.viewed", at);
        let now = utc("2026-05-03T08:00:30Z");
        let expected = if id == "s3" {
            due("s3", "2026-05-03T08:01:00Z")
        } else {
            None
        };
        assert_eq!(
            count_due(
                &rule,
                &RuleId::parse("browse-3").unwrap(),
                &slow,
                &seen,
                now
            ),
            expected,
            "{id}"
        );
    }
}

#[test]
fn count_ignores_other_types_and_unrecorded_events() {
    let rule = viewed_3_in_7d(Span::ZERO);
    let id = RuleId::parse("browse-3").unwrap();
    let now = utc("2026-05-01T10:00:00Z");
    let mut who = customer(None, "name", json!("Li"));
    for at in [
        "2026-04-29T10:00:00Z",
        "2026-04-30T10:00:00Z",
        "2026-05-01T10:00:00Z",
    ] {
        who.record_activity("cart.added", utc(at));
    }
    let cart = event("c3", "cart.added", "2026-05-01T10:00:00Z");
    assert_eq!(count_due(&rule, &id, &who, &cart, now), None);
    let unrecorded = event("v1", "product.viewed", "2026-05-01T10:00:00Z");
    assert_eq!(count_due(&rule, &id, &who, &unrecorded, now), None);
    assert_eq!(count_due(&on_paid("0s"), &id, &who, &unrecorded, now), None);
}
