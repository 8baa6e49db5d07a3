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
    // A stale version records nothing: neither the event nor its timers.
    let stale = EventCommit {
        event: event("e2", "c1", at(2, 11, 0)),
        customer: updated,
        expected_version: c.version,
        timers: vec![timer("c1", "thanks", "e2", at(2, 11, 30))],
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
    // After the conflict the id is still free.
    let retry = EventCommit {
        expected_version: c.version + 1,
        ..stale
    };
    assert_eq!(
        store.record_event(&retry).await.unwrap(),
        EventOutcome::Recorded
    );
}
