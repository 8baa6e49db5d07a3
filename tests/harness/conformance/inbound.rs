//! InboundLog: provider message ids recorded once, forgettable.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

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
