//! ApiKeyStore: keys by id, revocation.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

use super::*;

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
