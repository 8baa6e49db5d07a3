//! The store conformance suite: every `Store` adapter must pass all of it, so the embedded
//! store behaves exactly like production. Each check takes a fresh, empty store.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
#![allow(dead_code)]

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nudge_core::domain::{
    Category, Customer, CustomerId, Event, EventId, Message, MessageId, MessageStatus, PhoneNumber,
    RuleId, SentEntry, TenantId, Timer,
};
use nudge_core::ports::{
    Claim, CommitOutcome, Counters, EventCommit, EventOutcome, SendCommit, Store,
};
use nudge_core::Error;
use serde_json::json;

pub fn at(d: u32, h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, 0).unwrap()
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
        segments: 1,
        status: MessageStatus::Queued,
        reason: None,
        created_at: now,
        updated_at: now,
        provider_id: None,
        attempts: 0,
        next_attempt_at: None,
        ignores_suppression: false,
    }
}

fn send_commit(c: &Customer, rule: &str, occurrence: &str, now: DateTime<Utc>) -> SendCommit {
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

pub async fn customers_round_trip_with_versions(store: &dyn Store) {
    let c = customer("c1", "13800138001");
    let v1 = store.put_customer(&c, None).await.unwrap();
    assert_eq!(v1, 1);
    let got = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    assert_eq!(got.attributes["name"], json!("王芳"));
    assert_eq!(got.version, 1);
    // Creating again, or writing with a stale version, is a conflict and changes nothing.
    assert!(matches!(
        store.put_customer(&c, None).await,
        Err(Error::Conflict(_))
    ));
    let mut changed = got.clone();
    changed.attributes.insert("plan".into(), json!("paid"));
    assert_eq!(store.put_customer(&changed, Some(1)).await.unwrap(), 2);
    assert!(matches!(
        store.put_customer(&changed, Some(1)).await,
        Err(Error::Conflict(_))
    ));
    let got = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    assert_eq!(
        (got.version, got.attributes["plan"].clone()),
        (2, json!("paid"))
    );
    let by_phone = store
        .find_customer_by_phone(&tenant(), &c.phone)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_phone.id, c.id);
    let other = TenantId::parse("other").unwrap();
    assert!(store.get_customer(&other, &c.id).await.unwrap().is_none());
    assert!(store
        .find_customer_by_phone(&other, &c.phone)
        .await
        .unwrap()
        .is_none());
}

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

pub async fn a_dedupe_key_is_sent_once(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let first = send_commit(&c, "promo", "2026-03-02", at(2, 10, 0));
    assert_eq!(
        store.commit_send(&first).await.unwrap(),
        CommitOutcome::Committed
    );
    let fresh = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    let again = send_commit(&fresh, "promo", "2026-03-02", at(2, 10, 5));
    assert_eq!(
        store.commit_send(&again).await.unwrap(),
        CommitOutcome::Duplicate
    );
    let messages = store.customer_messages(&tenant(), &c.id, 10).await.unwrap();
    assert_eq!(messages.len(), 1);
    let after = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    assert_eq!(
        after.ledger.len(),
        1,
        "the duplicate must not touch the ledger"
    );
    assert_eq!(
        store
            .queue_message(&again.message, &Counters::new())
            .await
            .unwrap(),
        CommitOutcome::Duplicate
    );
}

pub async fn concurrent_sends_cannot_both_pass_the_ledger(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    // Two deciders read the same customer version and each decide a different text.
    let a = send_commit(&c, "promo-a", "x", at(2, 10, 0));
    let b = send_commit(&c, "promo-b", "x", at(2, 10, 0));
    let (ra, rb) = futures_join(store.commit_send(&a), store.commit_send(&b)).await;
    let outcomes = [ra.unwrap(), rb.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == CommitOutcome::Committed)
            .count(),
        1
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == CommitOutcome::Conflict)
            .count(),
        1
    );
    assert_eq!(
        store
            .customer_messages(&tenant(), &c.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // The loser's dedupe key was not consumed: re-deciding on fresh state can still commit.
    let fresh = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    let loser = if outcomes[0] == CommitOutcome::Conflict {
        "promo-a"
    } else {
        "promo-b"
    };
    let retry = send_commit(&fresh, loser, "x", at(2, 10, 1));
    assert_eq!(
        store.commit_send(&retry).await.unwrap(),
        CommitOutcome::Committed
    );
}

async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}

pub async fn the_due_index_and_checkpoint(store: &dyn Store) {
    let t1 = timer("c1", "r1", "o1", at(2, 10, 0));
    let t2 = timer("c2", "r1", "o1", at(2, 10, 0));
    let t3 = timer("c1", "r2", "o1", at(2, 10, 1));
    store
        .put_timers(&[t1.clone(), t2.clone(), t3.clone()])
        .await
        .unwrap();
    let due = store.due_timers(at(2, 10, 0)).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.contains(&t1) && due.contains(&t2));
    assert_eq!(
        store.due_timers(at(2, 10, 1)).await.unwrap(),
        vec![t3.clone()]
    );
    assert!(store.due_timers(at(2, 10, 2)).await.unwrap().is_empty());
    // Moving a timer removes it from its old minute.
    store.reschedule_timer(&t1, at(3, 1, 0)).await.unwrap();
    assert_eq!(
        store.due_timers(at(2, 10, 0)).await.unwrap(),
        vec![t2.clone()]
    );
    let moved = store.due_timers(at(3, 1, 0)).await.unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].due, at(3, 1, 0));
    store
        .delete_timers(&[t2.clone(), t2.clone()])
        .await
        .unwrap();
    assert!(store.due_timers(at(2, 10, 0)).await.unwrap().is_empty());
    let c1 = CustomerId::parse("c1").unwrap();
    assert_eq!(
        store.customer_timers(&tenant(), &c1).await.unwrap().len(),
        2
    );
    // The checkpoint only moves forward.
    assert_eq!(store.checkpoint().await.unwrap(), None);
    store.set_checkpoint(at(2, 10, 5)).await.unwrap();
    store.set_checkpoint(at(2, 10, 3)).await.unwrap();
    assert_eq!(store.checkpoint().await.unwrap(), Some(at(2, 10, 5)));
}

pub async fn many_large_timers_in_one_minute_are_all_returned(store: &dyn Store) {
    // ~1.5 MB of timers in one minute: adapters with paged reads must follow every page.
    let big = "x".repeat(12_000);
    let timers: Vec<Timer> = (0..130)
        .map(|i| {
            let mut t = timer(&format!("c{i:03}"), "r1", "o1", at(2, 10, 0));
            let mut e = event(&format!("e{i}"), &format!("c{i:03}"), at(2, 9, 0));
            e.properties.insert("blob".into(), json!(big));
            t.event = Some(e);
            t
        })
        .collect();
    store.put_timers(&timers).await.unwrap();
    let due = store.due_timers(at(2, 10, 0)).await.unwrap();
    assert_eq!(due.len(), 130);
}

pub async fn suppression_outlives_the_customer(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    assert!(!store.is_suppressed(&tenant(), &c.phone).await.unwrap());
    let suppress = |hour: u32, reference: Option<&'static str>| {
        let phone = c.phone.clone();
        async move {
            store
                .suppress(&tenant(), &phone, at(2, hour, 0), "sms", reference)
                .await
                .unwrap()
        }
    };
    assert!(suppress(10, Some("in-1")).await);
    assert!(
        suppress(11, Some("in-1")).await,
        "the request that suppressed it, again"
    );
    assert!(!suppress(12, Some("in-2")).await, "another request");
    assert!(!suppress(12, None).await);
    store
        .put_timers(&[timer("c1", "r1", "o1", at(5, 10, 0))])
        .await
        .unwrap();
    assert!(store.delete_customer(&tenant(), &c.id).await.unwrap());
    assert!(!store.delete_customer(&tenant(), &c.id).await.unwrap());
    assert!(store
        .get_customer(&tenant(), &c.id)
        .await
        .unwrap()
        .is_none());
    assert!(store.due_timers(at(5, 10, 0)).await.unwrap().is_empty());
    assert!(store.is_suppressed(&tenant(), &c.phone).await.unwrap());
    assert!(!store
        .is_suppressed(&TenantId::parse("other").unwrap(), &c.phone)
        .await
        .unwrap());
    assert!(store.unsuppress(&tenant(), &c.phone).await.unwrap());
    assert!(!store.unsuppress(&tenant(), &c.phone).await.unwrap());
    assert!(!store.is_suppressed(&tenant(), &c.phone).await.unwrap());
}

pub async fn message_transitions_are_conditional(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let commit = send_commit(&c, "promo", "o", at(2, 10, 0));
    store.commit_send(&commit).await.unwrap();
    let queued = store.sendable_messages(at(2, 10, 0), 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    let mut claimed = queued[0].clone();
    claimed.status = MessageStatus::Sending;
    claimed.attempts = 1;
    assert!(store
        .transition_message(&claimed, MessageStatus::Queued)
        .await
        .unwrap());
    assert!(
        !store
            .transition_message(&claimed, MessageStatus::Queued)
            .await
            .unwrap(),
        "claimed twice"
    );
    assert!(store
        .sendable_messages(at(2, 10, 0), 10)
        .await
        .unwrap()
        .is_empty());
    let mut retry = claimed.clone();
    retry.status = MessageStatus::Queued;
    retry.next_attempt_at = Some(at(2, 10, 30));
    assert!(store
        .transition_message(&retry, MessageStatus::Sending)
        .await
        .unwrap());
    assert!(store
        .sendable_messages(at(2, 10, 29), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .sendable_messages(at(2, 10, 30), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let got = store
        .get_message(&tenant(), &commit.message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.status, got.attempts), (MessageStatus::Queued, 1));
}

pub async fn customers_are_read_together(store: &dyn Store) {
    // More than one DynamoDB BatchGetItem holds.
    let mut ids = Vec::new();
    for i in 0..130 {
        let c = stored(store, &customer(&format!("c{i:03}"), &format!("138{i:08}"))).await;
        ids.push((c.tenant.clone(), c.id.clone()));
    }
    let c5 = customer("c005", "13800000005");
    store.put_customer(&c5, Some(1)).await.unwrap();
    ids.push((tenant(), CustomerId::parse("gone").unwrap()));
    ids.push(ids[5].clone());
    let other = TenantId::parse("other").unwrap();
    ids.push((other, CustomerId::parse("c001").unwrap()));

    let mut got = store.get_customers(&ids).await.unwrap();
    got.sort_by(|a, b| a.id.cmp(&b.id));
    let listed: Vec<String> = got.iter().map(|c| c.id.as_str().to_string()).collect();
    let expected: Vec<String> = (0..130).map(|i| format!("c{i:03}")).collect();
    assert_eq!(listed, expected, "every stored one once, none invented");
    assert_eq!(got[5].version, 2, "the current version");
    assert_eq!(got[0].version, 1);
    assert_eq!(got[0].attributes["name"], json!("王芳"));
    assert!(store.get_customers(&[]).await.unwrap().is_empty());
}

/// The message of `commit` as a sender claims it: one more attempt, status sending.
fn claimed(read: &Message, now: DateTime<Utc>) -> Message {
    let mut m = read.clone();
    m.status = MessageStatus::Sending;
    m.attempts += 1;
    m.updated_at = now;
    m.next_attempt_at = None;
    m
}

pub async fn claims_hold_only_for_the_version_read(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let commit = send_commit(&c, "promo", "o", at(2, 10, 0));
    store.commit_send(&commit).await.unwrap();
    let first = claimed(&commit.message, at(2, 10, 0));
    assert_eq!(store.claim_message(&first).await.unwrap(), Claim::Claimed);
    assert_eq!(
        store.claim_message(&first).await.unwrap(),
        Claim::Lost,
        "claimed twice"
    );
    // The attempt failed and was requeued with a backoff.
    let mut requeued = first.clone();
    requeued.status = MessageStatus::Queued;
    requeued.next_attempt_at = Some(at(2, 10, 5));
    assert!(store
        .transition_message(&requeued, MessageStatus::Sending)
        .await
        .unwrap());
    // A stale copy (the first queued image, redelivered) cannot claim it past its backoff.
    assert_eq!(
        store.claim_message(&first).await.unwrap(),
        Claim::Lost,
        "a stale copy claimed"
    );
    let got = store
        .get_message(&tenant(), &commit.message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, requeued, "the lost claim changed nothing");
    let second = claimed(&requeued, at(2, 10, 5));
    assert_eq!(store.claim_message(&second).await.unwrap(), Claim::Claimed);
    let got = store
        .get_message(&tenant(), &commit.message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((got.status, got.attempts), (MessageStatus::Sending, 2));
}

pub async fn claims_check_suppression(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let commit = send_commit(&c, "promo", "o", at(2, 10, 0));
    store.commit_send(&commit).await.unwrap();
    store
        .suppress(&tenant(), &c.phone, at(2, 9, 0), "sms", None)
        .await
        .unwrap();
    let attempt = claimed(&commit.message, at(2, 10, 0));
    assert_eq!(
        store.claim_message(&attempt).await.unwrap(),
        Claim::Suppressed
    );
    let got = store
        .get_message(&tenant(), &commit.message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, commit.message, "still queued as it was");

    // A message that ignores suppression (the opt-out confirmation) is claimed anyway.
    let mut confirmation = message(&c, "optout-confirmation", "r1", at(2, 10, 1));
    confirmation.category = Category::Transactional;
    confirmation.ignores_suppression = true;
    store
        .queue_message(&confirmation, &Counters::new())
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_message(&claimed(&confirmation, at(2, 10, 1)))
            .await
            .unwrap(),
        Claim::Claimed
    );
}

pub async fn results_are_recorded_with_their_stats(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let commit = send_commit(&c, "promo", "o", at(2, 23, 59));
    store.commit_send(&commit).await.unwrap();
    let sending = claimed(&commit.message, at(2, 23, 59));
    assert_eq!(store.claim_message(&sending).await.unwrap(), Claim::Claimed);
    let mut sent = sending.clone();
    sent.status = MessageStatus::Sent;
    sent.provider_id = Some("sns-1".into());
    sent.updated_at = at(3, 0, 0);
    let counted = Counters::from([("sent".to_string(), 1)]);
    assert!(store
        .finish_message(&sent, MessageStatus::Sending, &counted)
        .await
        .unwrap());
    assert!(
        !store
            .finish_message(&sent, MessageStatus::Sending, &counted)
            .await
            .unwrap(),
        "recorded twice"
    );
    let got = store
        .get_message(&tenant(), &commit.message.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, sent);
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let rows = store.stats(&tenant(), day(2), day(3)).await.unwrap();
    let sent_per_day: Vec<(NaiveDate, Option<i64>)> = rows
        .iter()
        .map(|r| (r.day, r.counters.get("sent").copied()))
        .collect();
    // Queued on the 2nd, sent (once) on the day of the result.
    assert_eq!(sent_per_day, vec![(day(2), None), (day(3), Some(1))]);
}

pub async fn stats_add_up_per_day_and_rule(store: &dyn Store) {
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let add = |n: i64| Counters::from([("sent".to_string(), n), ("skipped_cap".to_string(), 1)]);
    store
        .add_stats(&tenant(), day(2), "promo", &add(2))
        .await
        .unwrap();
    store
        .add_stats(&tenant(), day(2), "promo", &add(3))
        .await
        .unwrap();
    store
        .add_stats(&tenant(), day(3), "promo", &add(1))
        .await
        .unwrap();
    store
        .add_stats(&tenant(), day(3), "welcome", &add(7))
        .await
        .unwrap();
    store
        .add_stats(&tenant(), day(9), "welcome", &add(7))
        .await
        .unwrap();
    let rows = store.stats(&tenant(), day(2), day(3)).await.unwrap();
    let flat: Vec<(NaiveDate, &str, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.day,
                r.rule.as_str(),
                r.counters["sent"],
                r.counters["skipped_cap"],
            )
        })
        .collect();
    assert_eq!(
        flat,
        vec![
            (day(2), "promo", 5, 2),
            (day(3), "promo", 1, 1),
            (day(3), "welcome", 7, 1)
        ]
    );
}

pub async fn inbound_ids_are_recorded_once(store: &dyn Store) {
    assert!(store
        .record_inbound(&tenant(), "in-1", at(2, 10, 0))
        .await
        .unwrap());
    assert!(!store
        .record_inbound(&tenant(), "in-1", at(2, 10, 1))
        .await
        .unwrap());
    assert!(store
        .record_inbound(&TenantId::parse("other").unwrap(), "in-1", at(2, 10, 1))
        .await
        .unwrap());
    // A reply whose handling failed is forgotten, so its redelivery counts as new; only in
    // its own tenant.
    store.forget_inbound(&tenant(), "in-1").await.unwrap();
    assert!(store
        .record_inbound(&tenant(), "in-1", at(2, 10, 2))
        .await
        .unwrap());
    assert!(!store
        .record_inbound(&TenantId::parse("other").unwrap(), "in-1", at(2, 10, 2))
        .await
        .unwrap());
    store.forget_inbound(&tenant(), "never-seen").await.unwrap();
}

pub async fn reply_texts_are_counted_per_day_and_ranked(store: &dyn Store) {
    use nudge_core::ports::{ReplyTextCount, MAX_REPLY_TEXT_CHARS};
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let other = TenantId::parse("other").unwrap();
    let long = "好".repeat(MAX_REPLY_TEXT_CHARS + 40);
    let adds: &[(u32, &str)] = &[
        (2, "几点发货"),
        (2, "几点发货"),
        (3, "几点发货"),
        (3, "WHERE IS MY ORDER"),
        (3, "THANKS"),
        (4, "THANKS"),
        (4, &long),
        (4, &long[..long.len() - 3]),
        (4, ""),
        (9, "THANKS"),
    ];
    for (d, text) in adds {
        store
            .add_reply_text(&tenant(), day(*d), text)
            .await
            .unwrap();
    }
    store
        .add_reply_text(&other, day(3), "几点发货")
        .await
        .unwrap();
    let count = |text: &str, count| ReplyTextCount {
        text: text.to_string(),
        count,
    };
    let cut = "好".repeat(MAX_REPLY_TEXT_CHARS);
    let top = store
        .top_reply_texts(&tenant(), day(2), day(4), 10)
        .await
        .unwrap();
    assert_eq!(
        top,
        vec![
            count("几点发货", 3),
            count("THANKS", 2),
            count(&cut, 2),
            count("WHERE IS MY ORDER", 1),
        ]
    );
    let top = store
        .top_reply_texts(&tenant(), day(3), day(3), 2)
        .await
        .unwrap();
    assert_eq!(top, vec![count("THANKS", 1), count("WHERE IS MY ORDER", 1)]);
    let top = store
        .top_reply_texts(&other, day(1), day(30), 10)
        .await
        .unwrap();
    assert_eq!(top, vec![count("几点发货", 1)]);
    assert!(store
        .top_reply_texts(&tenant(), day(5), day(8), 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn skips_are_recorded_once_and_consume_the_timer(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let t = timer("c1", "promo", "o", at(2, 10, 0));
    store.put_timers(std::slice::from_ref(&t)).await.unwrap();
    let mut skipped = message(&c, "promo", "o", at(2, 10, 0));
    skipped.status = MessageStatus::Skipped;
    skipped.reason = Some("cap_per_week".into());
    let stats = Counters::from([("skipped_cap_per_week".to_string(), 1)]);
    store.record_skip(&skipped, Some(&t), &stats).await.unwrap();
    store.record_skip(&skipped, Some(&t), &stats).await.unwrap();
    assert!(store.due_timers(at(2, 10, 0)).await.unwrap().is_empty());
    assert_eq!(
        store
            .customer_messages(&tenant(), &c.id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let day = at(2, 10, 0).date_naive();
    let rows = store.stats(&tenant(), day, day).await.unwrap();
    assert_eq!(rows[0].counters["skipped_cap_per_week"], 1);
}

pub async fn api_keys_are_found_by_id_and_revocable(store: &dyn Store) {
    use nudge_core::domain::{ApiKey, Scope};
    let key = ApiKey {
        id: "k1a2b3".into(),
        secret_sha256: "ab".repeat(32),
        tenant: tenant(),
        scopes: vec![Scope::EventsWrite],
        regions: vec!["north".into()],
        label: Some("branch north".into()),
        created_at: at(2, 10, 0),
        revoked_at: None,
    };
    assert!(store.get_api_key("k1a2b3").await.unwrap().is_none());
    store.put_api_key(&key).await.unwrap();
    assert_eq!(
        store.get_api_key("k1a2b3").await.unwrap(),
        Some(key.clone())
    );
    let revoked = ApiKey {
        revoked_at: Some(at(3, 10, 0)),
        ..key
    };
    store.put_api_key(&revoked).await.unwrap();
    let got = store.get_api_key("k1a2b3").await.unwrap().unwrap();
    assert!(!got.allows(Scope::EventsWrite));
}

/// Runs every check, each on a fresh store from `fresh`.
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:expr) => {
        $crate::conformance_tests!(@each $fresh;
            customers_round_trip_with_versions,
            events_are_idempotent_and_atomic,
            a_dedupe_key_is_sent_once,
            concurrent_sends_cannot_both_pass_the_ledger,
            the_due_index_and_checkpoint,
            many_large_timers_in_one_minute_are_all_returned,
            suppression_outlives_the_customer,
            message_transitions_are_conditional,
            customers_are_read_together,
            claims_hold_only_for_the_version_read,
            claims_check_suppression,
            results_are_recorded_with_their_stats,
            stats_add_up_per_day_and_rule,
            inbound_ids_are_recorded_once,
            reply_texts_are_counted_per_day_and_ranked,
            skips_are_recorded_once_and_consume_the_timer,
            api_keys_are_found_by_id_and_revocable);
    };
    (@each $fresh:expr; $($name:ident),*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = $fresh.await;
                $crate::conformance::$name(&*store).await;
            }
        )*
    };
}
