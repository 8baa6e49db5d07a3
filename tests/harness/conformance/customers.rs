//! CustomerStore: versions, conditional writes, batch reads.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

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

pub async fn deleting_a_customer_cancels_and_forgets_its_texts(store: &dyn Store) {
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
    // A sender claimed the second text just before the delete.
    let held = claimed(&second.message, at(2, 10, 0));
    assert_eq!(store.claim_message(&held).await.unwrap(), Claim::Claimed);
    let other = stored(store, &customer("c2", "13800138002")).await;
    let kept = send_commit(&other, "promo", "a", at(2, 10, 0));
    store.commit_send(&kept).await.unwrap();

    assert!(store.delete_customer(&tenant(), &c.id).await.unwrap());
    assert!(!store.delete_customer(&tenant(), &c.id).await.unwrap());

    // Nothing of it can be sent: not from the outbox, not by a stale stream image, not by
    // the sender that held it.
    let sendable = store.sendable_messages(at(2, 11, 0), 10).await.unwrap();
    assert_eq!(
        sendable,
        vec![kept.message.clone()],
        "the other customer's stays"
    );
    assert_eq!(
        store
            .claim_message(&claimed(&first.message, at(2, 10, 1)))
            .await
            .unwrap(),
        Claim::Lost
    );
    let mut dispatched = held.clone();
    dispatched.status = MessageStatus::Dispatched;
    assert!(!store
        .transition_message(&dispatched, MessageState::of(&held))
        .await
        .unwrap());
    assert!(store
        .expired_leases(at(2, 12, 0), 10)
        .await
        .unwrap()
        .is_empty());
    // Nothing of it is kept: no message (phone number and text), no decision.
    assert!(store
        .customer_messages(&tenant(), &c.id, 10)
        .await
        .unwrap()
        .is_empty());
    for id in [&first.message.id, &second.message.id] {
        assert_eq!(store.get_message(&tenant(), id).await.unwrap(), None);
    }
    // A new customer under the same id starts with a clean slate.
    let again = stored(store, &customer("c1", "13800138001")).await;
    assert_eq!(
        store
            .commit_send(&send_commit(&again, "promo", "a", at(3, 10, 0)))
            .await
            .unwrap(),
        CommitOutcome::Committed
    );
}
