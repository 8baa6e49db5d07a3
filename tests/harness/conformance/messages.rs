//! MessageStore: send commits (dedupe, ledger), claims, results, skips, transitions.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

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
        .transition_message(&claimed, MessageState::of(&queued[0]))
        .await
        .unwrap());
    assert!(
        !store
            .transition_message(&claimed, MessageState::of(&queued[0]))
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
        .transition_message(&retry, MessageState::of(&claimed))
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
        .transition_message(&requeued, MessageState::of(&first))
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
        .finish_message(&sent, MessageState::of(&sending), &counted)
        .await
        .unwrap());
    assert!(
        !store
            .finish_message(&sent, MessageState::of(&sending), &counted)
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

pub async fn expired_leases_are_listed_until_settled(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let first = send_commit(&c, "promo", "a", at(2, 10, 0));
    assert_eq!(
        store.commit_send(&first).await.unwrap(),
        CommitOutcome::Committed
    );
    let fresh = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
    let second = send_commit(&fresh, "promo", "b", at(2, 10, 0));
    assert_eq!(
        store.commit_send(&second).await.unwrap(),
        CommitOutcome::Committed
    );
    // The first is claimed at 10:00 (lease to 10:05), the second at 10:02 (to 10:07).
    let held_a = claimed(&first.message, at(2, 10, 0));
    let held_b = claimed(&second.message, at(2, 10, 2));
    assert_eq!(store.claim_message(&held_a).await.unwrap(), Claim::Claimed);
    assert_eq!(store.claim_message(&held_b).await.unwrap(), Claim::Claimed);
    assert!(store
        .expired_leases(at(2, 10, 4), 10)
        .await
        .unwrap()
        .is_empty());
    let mut dispatched = held_a.clone();
    dispatched.status = MessageStatus::Dispatched;
    assert!(store
        .transition_message(&dispatched, MessageState::of(&held_a))
        .await
        .unwrap());
    assert_eq!(
        store.expired_leases(at(2, 10, 5), 10).await.unwrap(),
        vec![dispatched.clone()],
        "a dispatched message is held until its lease ends, like a sending one"
    );
    assert_eq!(
        store.expired_leases(at(2, 10, 7), 10).await.unwrap(),
        vec![dispatched.clone(), held_b.clone()],
        "the earliest lease first"
    );
    assert_eq!(
        store.expired_leases(at(2, 10, 7), 1).await.unwrap(),
        vec![dispatched.clone()]
    );
    assert!(
        store
            .sendable_messages(at(2, 11, 0), 10)
            .await
            .unwrap()
            .is_empty(),
        "held messages are not sendable"
    );
    // Settling takes them off the list: one recorded as unknown, one queued again.
    let mut unknown = dispatched.clone();
    unknown.status = MessageStatus::Unknown;
    unknown.lease_until = None;
    let counted = Counters::from([("unknown".to_string(), 1)]);
    assert!(store
        .finish_message(&unknown, MessageState::of(&dispatched), &counted)
        .await
        .unwrap());
    let mut requeued = held_b.clone();
    requeued.status = MessageStatus::Queued;
    requeued.lease_until = None;
    assert!(store
        .finish_message(&requeued, MessageState::of(&held_b), &Counters::new())
        .await
        .unwrap());
    assert!(store
        .expired_leases(at(2, 12, 0), 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.sendable_messages(at(2, 12, 0), 10).await.unwrap(),
        vec![requeued]
    );
    let day = at(2, 10, 0).date_naive();
    let rows = store.stats(&tenant(), day, day).await.unwrap();
    assert_eq!(rows[0].counters.get("unknown"), Some(&1));
}

pub async fn a_sender_whose_lease_was_taken_back_cannot_write(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let commit = send_commit(&c, "promo", "o", at(2, 10, 0));
    store.commit_send(&commit).await.unwrap();
    let slow = claimed(&commit.message, at(2, 10, 0));
    assert_eq!(store.claim_message(&slow).await.unwrap(), Claim::Claimed);
    // Its lease ended; the sweep queued the text again and another sender claimed it.
    let mut requeued = slow.clone();
    requeued.status = MessageStatus::Queued;
    requeued.lease_until = None;
    assert!(store
        .finish_message(&requeued, MessageState::of(&slow), &Counters::new())
        .await
        .unwrap());
    let fast = claimed(&requeued, at(2, 10, 6));
    assert_eq!(store.claim_message(&fast).await.unwrap(), Claim::Claimed);
    // The slow sender wakes up: nothing it writes lands, whatever it thinks it holds.
    let mut dispatched = slow.clone();
    dispatched.status = MessageStatus::Dispatched;
    assert!(!store
        .transition_message(&dispatched, MessageState::of(&slow))
        .await
        .unwrap());
    let mut sent = slow.clone();
    sent.status = MessageStatus::Sent;
    sent.lease_until = None;
    let counted = Counters::from([("sent".to_string(), 1)]);
    assert!(!store
        .finish_message(&sent, MessageState::of(&slow), &counted)
        .await
        .unwrap());
    assert_eq!(
        store
            .get_message(&tenant(), &commit.message.id)
            .await
            .unwrap()
            .unwrap(),
        fast,
        "the second sender's claim stands"
    );
    // The second sender's own result is recorded.
    let mut done = fast.clone();
    done.status = MessageStatus::Sent;
    done.lease_until = None;
    assert!(store
        .finish_message(&done, MessageState::of(&fast), &counted)
        .await
        .unwrap());
}

pub async fn sent_texts_are_found_by_provider_id_and_receipts_count_on_the_send_day(
    store: &dyn Store,
) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let commit = send_commit(&c, "promo", "o", at(2, 23, 0));
    store.commit_send(&commit).await.unwrap();
    let sending = claimed(&commit.message, at(2, 23, 0));
    assert_eq!(store.claim_message(&sending).await.unwrap(), Claim::Claimed);
    assert_eq!(
        store.message_by_provider_id("sns", "abc-1").await.unwrap(),
        None,
        "not findable before it is sent"
    );
    let mut sent = sending.clone();
    sent.status = MessageStatus::Sent;
    sent.provider = Some("sns".into());
    sent.provider_id = Some("abc-1".into());
    sent.sent_at = Some(at(2, 23, 30));
    sent.lease_until = None;
    sent.updated_at = at(2, 23, 30);
    let one = |name: &str| Counters::from([(name.to_string(), 1)]);
    assert!(store
        .finish_message(&sent, MessageState::of(&sending), &one("sent"))
        .await
        .unwrap());
    assert_eq!(
        store.message_by_provider_id("sns", "abc-1").await.unwrap(),
        Some(sent.clone())
    );
    assert_eq!(
        store.message_by_provider_id("eum", "abc-1").await.unwrap(),
        None,
        "ids are per provider"
    );
    assert_eq!(
        store.message_by_provider_id("sns", "abc-2").await.unwrap(),
        None
    );

    // The receipt, the next day: the message is found, settled, and counted on the 2nd.
    let mut delivered = sent.clone();
    delivered.status = MessageStatus::Delivered;
    delivered.updated_at = at(3, 8, 0);
    assert!(store
        .finish_message(&delivered, MessageState::of(&sent), &one("delivered"))
        .await
        .unwrap());
    assert_eq!(
        store.message_by_provider_id("sns", "abc-1").await.unwrap(),
        Some(delivered)
    );
    let day = |d| NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let rows = store.stats(&tenant(), day(2), day(3)).await.unwrap();
    let delivered_per_day: Vec<(NaiveDate, Option<i64>)> = rows
        .iter()
        .map(|r| (r.day, r.counters.get("delivered").copied()))
        .collect();
    assert_eq!(delivered_per_day, vec![(day(2), Some(1))]);
}

pub async fn sent_texts_await_their_receipt_in_send_order_until_settled(store: &dyn Store) {
    let c = stored(store, &customer("c1", "13800138001")).await;
    let one = |name: &str| Counters::from([(name.to_string(), 1)]);
    let mut sent_texts = Vec::new();
    // Three texts, sent at 10:00, 09:00 and 11:00 (not in creation order).
    for (occurrence, hour) in [("a", 10), ("b", 9), ("c", 11)] {
        let c = store.get_customer(&tenant(), &c.id).await.unwrap().unwrap();
        let commit = send_commit(&c, "promo", occurrence, at(2, 8, 0));
        store.commit_send(&commit).await.unwrap();
        let sending = claimed(&commit.message, at(2, hour, 0));
        assert_eq!(store.claim_message(&sending).await.unwrap(), Claim::Claimed);
        let mut sent = sending.clone();
        sent.status = MessageStatus::Sent;
        sent.provider = Some("sns".into());
        sent.provider_id = Some(format!("id-{occurrence}"));
        sent.sent_at = Some(at(2, hour, 0));
        sent.lease_until = None;
        sent.updated_at = at(2, hour, 0);
        assert!(store
            .finish_message(&sent, MessageState::of(&sending), &one("sent"))
            .await
            .unwrap());
        sent_texts.push(sent);
    }
    let waiting = |by, limit| async move {
        store
            .unreceipted_messages(by, limit)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.occurrence)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        waiting(at(2, 10, 30), 10).await,
        ["b", "a"],
        "sent by the bound, earliest first"
    );
    assert_eq!(
        waiting(at(3, 0, 0), 2).await,
        ["b", "a"],
        "at most the limit"
    );
    assert_eq!(
        waiting(at(2, 9, 0), 10).await,
        ["b"],
        "the bound is included"
    );
    assert!(waiting(at(2, 8, 59), 10).await.is_empty());

    // A receipt settles one: it waits no more.
    let mut delivered = sent_texts[0].clone();
    delivered.status = MessageStatus::Delivered;
    delivered.updated_at = at(2, 12, 0);
    assert!(store
        .finish_message(
            &delivered,
            MessageState::of(&sent_texts[0]),
            &one("delivered")
        )
        .await
        .unwrap());
    assert_eq!(waiting(at(3, 0, 0), 10).await, ["b", "c"]);
}
