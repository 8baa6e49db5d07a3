//! The DynamoDB store against the store conformance suite, on the moto emulator (one table per
//! test), plus what only this adapter has: the item layout other components read, the sparse
//! outbox index, sharding and TTL.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use aws_sdk_dynamodb::types::AttributeValue;
use nudge_core::domain::{Customer, MessageStatus};
use nudge_core::ports::{
    Claim, CommitOutcome, CounterStore, Counters, CustomerStore, DueIndex, EventCommit, EventLog,
    EventOutcome, MessageState, MessageStore, SendCommit,
};
use nudge_dynamodb::{create_table, DynamoStore};
use nudge_tests::conformance::{at, customer, event, event_commit, message, stored, tenant, timer};
use nudge_tests::moto;
use std::collections::HashMap;
use std::sync::Arc;

async fn fresh() -> Arc<DynamoStore> {
    let client = moto::dynamo_client().await;
    let table = moto::unique_name("nudge");
    create_table(&client, &table).await.unwrap();
    Arc::new(DynamoStore::new(client, table))
}

nudge_tests::conformance_tests!(fresh());

type Item = HashMap<String, AttributeValue>;

async fn raw(store: &DynamoStore, pk: &str, sk: &str) -> Option<Item> {
    store
        .client()
        .get_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S(pk.into()))
        .key("SK", AttributeValue::S(sk.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn send(c: &Customer, rule: &str, minute: u32) -> SendCommit {
    SendCommit {
        message: message(c, rule, "o", at(2, 10, minute)),
        customer: c.clone(),
        expected_version: c.version,
        timer: None,
        stats: Counters::from([("queued".to_string(), 1)]),
    }
}

#[tokio::test]
async fn message_items_carry_what_the_stream_filter_and_sender_read() {
    let store = fresh().await;
    let c = stored(&*store, &customer("c1", "13800138001")).await;
    let commit = send(&c, "promo", 0);
    assert_eq!(
        store.commit_send(&commit).await.unwrap(),
        CommitOutcome::Committed
    );
    let m = &commit.message;
    let sk = format!("MSG#2026-03-02T10:00:00Z#{}", m.id);
    let item = raw(&store, "T#acme#C#c1", &sk).await.unwrap();
    assert_eq!(text(&item, "kind"), Some("message"));
    assert_eq!(text(&item, "status"), Some("queued"));
    let body: nudge_core::domain::Message =
        serde_json::from_str(text(&item, "body").unwrap()).unwrap();
    assert_eq!(&body, m);
    assert!(text(&item, "GSI2PK").unwrap().starts_with("OUTBOX#"));
    // The lookup item, the dedupe key and the customer's phone index.
    let lookup = raw(&store, &format!("T#acme#M#{}", m.id), "-")
        .await
        .unwrap();
    assert_eq!(text(&lookup, "target_sk"), Some(sk.as_str()));
    let dedupe = raw(&store, &format!("T#acme#DD#{}", m.own_dedupe_key()), "-")
        .await
        .unwrap();
    assert_eq!(text(&dedupe, "kind"), Some("dedupe"));
    let profile = raw(&store, "T#acme#C#c1", "PROFILE").await.unwrap();
    assert_eq!(text(&profile, "GSI1PK"), Some("T#acme#P#+8613800138001"));
    assert_eq!(profile["version"].as_n().unwrap(), "2");

    // Claimed: the item moves from the outbox to the lease partition of the index (sorted
    // by the end of the lease) and keeps its status attribute.
    let mut claimed = m.clone();
    claimed.status = MessageStatus::Sending;
    claimed.attempts = 1;
    claimed.lease_until = Some(at(2, 10, 5));
    assert!(store
        .transition_message(&claimed, MessageState::of(m))
        .await
        .unwrap());
    let item = raw(&store, "T#acme#C#c1", &sk).await.unwrap();
    assert_eq!(text(&item, "status"), Some("sending"));
    assert_eq!(item["attempts"].as_n().unwrap(), "1");
    assert!(text(&item, "GSI2PK").unwrap().starts_with("LEASE#"));
    assert!(text(&item, "GSI2SK")
        .unwrap()
        .starts_with("2026-03-02T10:05:00Z#"));
    // Sent: it awaits its receipt, listed by when it was sent.
    let mut sent = claimed.clone();
    sent.status = MessageStatus::Sent;
    sent.lease_until = None;
    sent.sent_at = Some(at(2, 10, 6));
    assert!(store
        .finish_message(&sent, MessageState::of(&claimed), &Counters::new())
        .await
        .unwrap());
    let item = raw(&store, "T#acme#C#c1", &sk).await.unwrap();
    assert_eq!(text(&item, "status"), Some("sent"));
    assert!(text(&item, "GSI2PK").unwrap().starts_with("RECEIPT#"));
    assert!(text(&item, "GSI2SK")
        .unwrap()
        .starts_with("2026-03-02T10:06:00Z#"));
    // Settled by its receipt: it leaves the index.
    let mut delivered = sent.clone();
    delivered.status = MessageStatus::Delivered;
    assert!(store
        .finish_message(&delivered, MessageState::of(&sent), &Counters::new())
        .await
        .unwrap());
    let item = raw(&store, "T#acme#C#c1", &sk).await.unwrap();
    assert!(!item.contains_key("GSI2PK") && !item.contains_key("GSI2SK"));
}

#[tokio::test]
async fn the_outbox_index_orders_retries_and_honours_the_limit() {
    let store = fresh().await;
    let mut c = stored(&*store, &customer("c1", "13800138001")).await;
    let mut ids = Vec::new();
    for (i, rule) in ["r0", "r1", "r2", "r3", "r4", "r5"].iter().enumerate() {
        let commit = send(&c, rule, i as u32);
        store.commit_send(&commit).await.unwrap();
        ids.push(commit.message.id.clone());
        c = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    }
    let due = store.sendable_messages(at(2, 11, 0), 10).await.unwrap();
    assert_eq!(
        due.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        ids,
        "all shards merged in creation order"
    );
    let first_three = store.sendable_messages(at(2, 11, 0), 3).await.unwrap();
    assert_eq!(
        first_three.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        ids[..3]
    );
    assert_eq!(
        store
            .sendable_messages(at(2, 10, 2), 10)
            .await
            .unwrap()
            .len(),
        3,
        "only messages created by then"
    );
    // The oldest fails and is retried an hour later: it moves behind the others.
    let mut retry = due[0].clone();
    retry.status = MessageStatus::Sending;
    retry.attempts = 1;
    assert!(store
        .transition_message(&retry, MessageState::of(&due[0]))
        .await
        .unwrap());
    let sending = MessageState::of(&retry);
    retry.status = MessageStatus::Queued;
    retry.next_attempt_at = Some(at(2, 12, 0));
    assert!(store.transition_message(&retry, sending).await.unwrap());
    let now = store.sendable_messages(at(2, 11, 0), 10).await.unwrap();
    assert_eq!(now.len(), 5);
    assert!(!now.iter().any(|m| m.id == ids[0]));
    let later = store.sendable_messages(at(2, 12, 0), 10).await.unwrap();
    assert_eq!(later.last().unwrap().id, ids[0]);
    assert_eq!(later.last().unwrap().attempts, 1);
}

#[tokio::test]
async fn a_duplicate_wins_over_a_stale_version() {
    let store = fresh().await;
    let c = stored(&*store, &customer("c1", "13800138001")).await;
    store.commit_send(&send(&c, "promo", 0)).await.unwrap();
    // Both conditions fail (dedupe exists, version is stale): the dedupe item's reason decides.
    assert_eq!(
        store.commit_send(&send(&c, "promo", 1)).await.unwrap(),
        CommitOutcome::Duplicate
    );
    assert_eq!(
        store.commit_send(&send(&c, "other", 1)).await.unwrap(),
        CommitOutcome::Conflict
    );
    let fresh = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    let mut updated = fresh.clone();
    updated.record_activity("order.paid", at(2, 10, 0));
    let commit = EventCommit {
        event: event("e1", "c1", at(2, 10, 0)),
        customer: updated,
        expected_version: fresh.version,
        timers: vec![],
        stats: vec![],
    };
    assert_eq!(
        store.record_event(&commit).await.unwrap(),
        EventOutcome::Recorded
    );
    assert_eq!(
        store.record_event(&commit).await.unwrap(),
        EventOutcome::Duplicate
    );
}

#[tokio::test]
async fn timers_spread_over_shards_and_move_within_their_shard() {
    let store = fresh().await;
    let timers: Vec<_> = (0..40)
        .map(|i| timer(&format!("c{i}"), "r1", "o1", at(2, 10, 0)))
        .collect();
    store.put_timers(&timers).await.unwrap();
    let mut shards = std::collections::BTreeSet::new();
    for t in &timers {
        let pointer = raw(
            &store,
            &format!("T#acme#C#{}", t.customer_id),
            "TIMER#r1#o1",
        )
        .await
        .unwrap();
        assert_eq!(text(&pointer, "kind"), Some("timer_ref"));
        let target = text(&pointer, "target_pk").unwrap().to_string();
        assert!(target.starts_with("DUE#2026-03-02T10:00#"), "{target}");
        shards.insert(target);
    }
    assert_eq!(shards.len(), 4, "40 timers use every shard: {shards:?}");
    assert_eq!(store.due_timers(at(2, 10, 0)).await.unwrap().len(), 40);
    // A move keeps the shard, changes the minute, and leaves nothing behind.
    let moved = &timers[7];
    store.reschedule_timer(moved, at(2, 11, 0)).await.unwrap();
    let pointer = raw(&store, "T#acme#C#c7", "TIMER#r1#o1").await.unwrap();
    let target = text(&pointer, "target_pk").unwrap();
    assert!(target.starts_with("DUE#2026-03-02T11:00#"));
    assert_eq!(store.due_timers(at(2, 10, 0)).await.unwrap().len(), 39);
    assert_eq!(store.due_timers(at(2, 11, 0)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn events_expire_and_same_second_events_list_like_sqlite() {
    let store = fresh().await;
    let mut c = stored(&*store, &customer("c1", "13800138001")).await;
    for id in ["e3", "e1", "e2"] {
        let commit = EventCommit {
            event: event(id, "c1", at(2, 10, 0)),
            customer: c.clone(),
            expected_version: c.version,
            timers: vec![],
            stats: vec![],
        };
        assert_eq!(
            store.record_event(&commit).await.unwrap(),
            EventOutcome::Recorded
        );
        c = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    }
    let events = store.customer_events(&tenant(), &c.id, 2).await.unwrap();
    let ids: Vec<_> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids, ["e1", "e2"], "newest first, then by event id");
    let item = raw(&store, "T#acme#C#c1", "EV#2026-03-02T10:00:00Z#e1")
        .await
        .unwrap();
    let expires: i64 = item["expires_at"].as_n().unwrap().parse().unwrap();
    assert_eq!(
        expires,
        (at(2, 10, 0) + chrono::TimeDelta::days(400)).timestamp()
    );
    let ttl = store
        .client()
        .describe_time_to_live()
        .table_name(store.table())
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("expires_at"));
}

#[tokio::test]
async fn one_shard_partition_beyond_a_page_is_read_to_the_end() {
    // All ~1.5 MB of timers in one partition: DynamoDB (and moto) cut a Query at 1 MB.
    let client = moto::dynamo_client().await;
    let table = moto::unique_name("nudge");
    create_table(&client, &table).await.unwrap();
    let store = DynamoStore::new(client, table).with_shards(1);
    let first_page = |store: &DynamoStore| {
        store
            .client()
            .query()
            .table_name(store.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S("DUE#2026-03-02T10:00#0".into()))
            .send()
    };
    nudge_tests::conformance::due_index::many_large_timers_in_one_minute_are_all_returned(&store)
        .await;
    let page = first_page(&store).await.unwrap();
    assert!(
        page.last_evaluated_key().is_some(),
        "the partition must span pages"
    );
    assert!(page.items().len() < 130);
}

#[tokio::test]
async fn a_rules_counters_are_spread_over_items_and_read_as_one_row() {
    let store = fresh().await;
    for i in 0..24 {
        let c = stored(&*store, &customer(&format!("c{i}"), &format!("138{i:08}"))).await;
        assert_eq!(
            store.commit_send(&send(&c, "promo", 0)).await.unwrap(),
            CommitOutcome::Committed
        );
    }
    let items = store
        .client()
        .query()
        .table_name(store.table())
        .key_condition_expression("PK = :pk")
        .expression_attribute_values(":pk", AttributeValue::S("T#acme#STATS#2026-03-02".into()))
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert!(
        items.len() > 1,
        "concurrent writers would all meet on one item"
    );
    assert!(items
        .iter()
        .all(|i| text(i, "SK").unwrap().starts_with("promo#")));
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let rows = store.stats(&tenant(), day, day).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].rule.as_str(), rows[0].counters["queued"]),
        ("promo", 24)
    );
}

#[tokio::test]
async fn a_message_queued_before_items_carried_attempts_is_still_claimed_once() {
    let store = fresh().await;
    let c = stored(&*store, &customer("c1", "13800138001")).await;
    let commit = send(&c, "promo", 0);
    store.commit_send(&commit).await.unwrap();
    let sk = format!("MSG#2026-03-02T10:00:00Z#{}", commit.message.id);
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("PK", AttributeValue::S("T#acme#C#c1".into()))
        .key("SK", AttributeValue::S(sk))
        .update_expression("REMOVE attempts")
        .send()
        .await
        .unwrap();
    let mut claimed = commit.message.clone();
    claimed.status = MessageStatus::Sending;
    claimed.attempts = 1;
    assert_eq!(store.claim_message(&claimed).await.unwrap(), Claim::Claimed);
    assert_eq!(store.claim_message(&claimed).await.unwrap(), Claim::Lost);
}

/// The id item an earlier release wrote for an event of `customer`, per tenant.
async fn put_tenant_event_id(store: &DynamoStore, id: &str, customer: &str) {
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("PK", AttributeValue::S(format!("T#acme#EVID#{id}")))
        .item("SK", AttributeValue::S("-".into()))
        .item("kind", AttributeValue::S("evid".into()))
        .item(
            "target_pk",
            AttributeValue::S(format!("T#acme#C#{customer}")),
        )
        .send()
        .await
        .unwrap();
}

/// An event id item written per tenant by an earlier release still makes its customer's
/// repeated event a duplicate until it expires; for another customer the id is free.
#[tokio::test]
async fn event_ids_recorded_per_tenant_before_are_still_duplicates() {
    let store = fresh().await;
    let c1 = stored(&*store, &customer("c1", "13800138001")).await;
    let c2 = stored(&*store, &customer("c2", "13800138002")).await;
    put_tenant_event_id(&store, "e1", "c1").await;
    let commit =
        |c: &Customer, customer_id: &str| event_commit(c, event("e1", customer_id, at(2, 10, 0)));
    assert_eq!(
        store.record_event(&commit(&c1, "c1")).await.unwrap(),
        EventOutcome::Duplicate
    );
    assert_eq!(
        store.record_event(&commit(&c2, "c2")).await.unwrap(),
        EventOutcome::Recorded
    );
    let id_item = raw(&store, "T#acme#C#c2", "EVID#e1").await.unwrap();
    assert_eq!(text(&id_item, "event_type"), Some("order.paid"));
    assert!(id_item.contains_key("expires_at"));
    // Deleting the customer removes the id items of its events, of either layout.
    let c1 = store
        .get_customer(&tenant(), &c1.id)
        .await
        .unwrap()
        .unwrap();
    let e0 = event_commit(&c1, event("e0", "c1", at(2, 9, 0)));
    assert_eq!(
        store.record_event(&e0).await.unwrap(),
        EventOutcome::Recorded
    );
    put_tenant_event_id(&store, "e0", "c1").await;
    store.delete_customer(&tenant(), &c1.id).await.unwrap();
    assert!(raw(&store, "T#acme#EVID#e0", "-").await.is_none());
    assert!(raw(&store, "T#acme#C#c1", "EVID#e0").await.is_none());
}
