//! SuppressionList: a number stays suppressed after its customer is deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

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
