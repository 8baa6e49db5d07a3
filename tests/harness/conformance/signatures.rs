//! SignatureLog: an accepted signature cannot be accepted again until it ends.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

pub async fn a_signature_is_accepted_once_until_it_ends(store: &dyn Store) {
    let other = TenantId::parse("other").unwrap();
    let (now, until) = (at(2, 10, 0), at(2, 10, 10));
    assert!(store
        .record_signature(&tenant(), "ab12", now, until)
        .await
        .unwrap());
    assert!(
        !store
            .record_signature(&tenant(), "ab12", at(2, 10, 9), at(2, 10, 19))
            .await
            .unwrap(),
        "a replay within its tolerance"
    );
    assert!(
        store
            .record_signature(&other, "ab12", now, until)
            .await
            .unwrap(),
        "signatures are per tenant"
    );
    assert!(store
        .record_signature(&tenant(), "cd34", now, until)
        .await
        .unwrap());
    // Once it ended, the entry counts as absent (the request's timestamp is refused anyway).
    assert!(store
        .record_signature(&tenant(), "ab12", at(2, 10, 11), at(2, 10, 21))
        .await
        .unwrap());
    assert!(!store
        .record_signature(&tenant(), "ab12", at(2, 10, 12), at(2, 10, 22))
        .await
        .unwrap());
}
