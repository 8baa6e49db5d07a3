//! EventLog: an event once by id, atomically with its customer and timers.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

pub async fn events_are_idempotent_and_atomic(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let mut updated = c.clone();
    updated.record_activity("order.paid", at(2, 10, 0));
    let commit = EventCommit {
        event: event("e1", "c1", at(2, 10, 0)),
        customer: updated.clone(),
        expected_version: c.version,
        timers: vec![timer("c1", "thanks", "e1", at(2, 10, 30))],
        stats: vec![conversion_row(1)],
    };
    assert_eq!(
        store.record_event(&commit).await.unwrap(),
        EventOutcome::Recorded
    );
    let again = EventCommit {
        expected_version: c.version + 1,
        ..commit.clone()
    };
    assert_eq!(
        store.record_event(&again).await.unwrap(),
        EventOutcome::Duplicate
    );
    let got = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    assert_eq!(
        got.activity["order.paid"].count, 1,
        "a duplicate must not count twice"
    );
    assert_eq!(got.version, c.version + 1);
    assert_eq!(
        converted(store).await,
        (1, 1),
        "a duplicate must not count its conversion"
    );
    // A stale version records nothing: neither the event, its timers nor its counters.
    let stale = EventCommit {
        event: event("e2", "c1", at(2, 11, 0)),
        customer: updated,
        expected_version: c.version,
        timers: vec![timer("c1", "thanks", "e2", at(2, 11, 30))],
        stats: vec![conversion_row(2)],
    };
    assert_eq!(
        store.record_event(&stale).await.unwrap(),
        EventOutcome::Conflict
    );
    let events = store.customer_events(&tenant(), &c.id, 10).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        ["e1"]
    );
    let timers = store.customer_timers(&tenant(), &c.id).await.unwrap();
    assert_eq!(
        timers
            .iter()
            .map(|t| t.occurrence.as_str())
            .collect::<Vec<_>>(),
        ["e1"]
    );
    assert_eq!(converted(store).await, (1, 1));
    // After the conflict the id is still free.
    let retry = EventCommit {
        expected_version: c.version + 1,
        ..stale
    };
    assert_eq!(
        store.record_event(&retry).await.unwrap(),
        EventOutcome::Recorded
    );
    assert_eq!(converted(store).await, (2, 3));
}

/// A conversion counted by an event (on the day of the text it converts, day 1).
fn conversion_row(value: i64) -> StatsRow {
    StatsRow {
        day: day(1),
        rule: "winback".into(),
        counters: Counters::from([
            ("converted".to_string(), 1),
            ("conversion_value_milli".to_string(), value),
        ]),
    }
}

/// `converted` and `conversion_value_milli` of the rule on day 1.
async fn converted(store: &dyn Store) -> (i64, i64) {
    let rows = store.stats(&tenant(), day(1), day(1)).await.unwrap();
    let counter = |name: &str| {
        rows.iter()
            .filter(|r| r.rule == "winback")
            .filter_map(|r| r.counters.get(name))
            .sum::<i64>()
    };
    (counter("converted"), counter("conversion_value_milli"))
}

/// An event id is the customer's own: another customer's event with the same id is a new
/// event (no customer learns of another's ids), and the customer's id reused for another
/// type of event is refused without a change.
pub async fn event_ids_are_the_customers_own(store: &dyn Store) {
    let c1 = stored(store, &customer("c1", "13800138001")).await;
    let c2 = stored(store, &customer("c2", "13800138002")).await;
    let commit = event_commit;
    let paid = event("shared-id", "c1", at(2, 10, 0));
    assert_eq!(
        store
            .record_event(&commit(&c1, paid.clone()))
            .await
            .unwrap(),
        EventOutcome::Recorded
    );
    assert_eq!(
        store
            .record_event(&commit(&c2, event("shared-id", "c2", at(2, 10, 5))))
            .await
            .unwrap(),
        EventOutcome::Recorded,
        "another customer's id is no duplicate"
    );
    let c1 = store
        .get_customer(&tenant(), &c1.id)
        .await
        .unwrap()
        .unwrap();
    let refunded = Event {
        event_type: "order.refunded".into(),
        occurred_at: at(2, 11, 0),
        ..paid.clone()
    };
    assert_eq!(
        store.record_event(&commit(&c1, refunded)).await.unwrap(),
        EventOutcome::IdReused {
            event_type: "order.paid".into()
        }
    );
    assert_eq!(
        store.record_event(&commit(&c1, paid)).await.unwrap(),
        EventOutcome::Duplicate
    );
    let after = store
        .get_customer(&tenant(), &c1.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.version, c1.version, "a refused id changes nothing");
    assert!(!after.activity.contains_key("order.refunded"));
    assert_eq!(
        store
            .customer_events(&tenant(), &c1.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .customer_events(&tenant(), &c2.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let id = EventId::parse("shared-id").unwrap();
    assert_eq!(
        store
            .recorded_event_type(&tenant(), &c1.id, &id)
            .await
            .unwrap(),
        Some("order.paid".into())
    );
    let c3 = CustomerId::parse("c3").unwrap();
    assert_eq!(
        store
            .recorded_event_type(&tenant(), &c3, &id)
            .await
            .unwrap(),
        None
    );
    // Deleting a customer forgets its ids: the id is new again for a customer of that id.
    assert!(store.delete_customer(&tenant(), &c1.id).await.unwrap());
    assert_eq!(
        store
            .recorded_event_type(&tenant(), &c1.id, &id)
            .await
            .unwrap(),
        None
    );
}
