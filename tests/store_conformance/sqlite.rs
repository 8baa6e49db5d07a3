//! The embedded SQLite store against the store conformance suite, in memory and on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

async fn fresh() -> std::sync::Arc<nudge_sqlite::SqliteStore> {
    std::sync::Arc::new(nudge_sqlite::SqliteStore::in_memory().unwrap())
}

nudge_tests::conformance_tests!(fresh());

mod on_disk {
    use nudge_sqlite::SqliteStore;

    /// A store file in its own directory, removed when the test ends.
    pub struct OnDisk {
        store: SqliteStore,
        _dir: tempfile::TempDir,
    }

    impl std::ops::Deref for OnDisk {
        type Target = SqliteStore;
        fn deref(&self) -> &SqliteStore {
            &self.store
        }
    }

    async fn fresh_file() -> OnDisk {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("nudge.db")).unwrap();
        OnDisk { store, _dir: dir }
    }

    nudge_tests::conformance_tests!(fresh_file());
}

/// A store file written before suppression entries carried a reference opens, keeps its
/// entries, and takes referenced ones from then on.
#[tokio::test]
async fn a_store_file_from_before_suppression_references_is_upgraded() {
    use nudge_core::domain::{PhoneNumber, TenantId};
    use nudge_core::ports::SuppressionList;
    use nudge_sqlite::SqliteStore;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nudge.db");
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(
        "CREATE TABLE suppression (tenant TEXT NOT NULL, phone TEXT NOT NULL,
             at INTEGER NOT NULL, source TEXT NOT NULL, PRIMARY KEY (tenant, phone));
         INSERT INTO suppression VALUES ('acme', '+8613800138001', 1772409600, 'sms');",
    )
    .unwrap();
    drop(old);

    let store = SqliteStore::open(&path).unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    let kept = PhoneNumber::parse("+8613800138001", None).unwrap();
    let new = PhoneNumber::parse("+8613800138002", None).unwrap();
    let at = nudge_tests::conformance::at(2, 10, 0);
    assert!(store.is_suppressed(&tenant, &kept).await.unwrap());
    assert!(!store
        .suppress(&tenant, &kept, at, "sms", Some("in-9"))
        .await
        .unwrap());
    assert!(store
        .suppress(&tenant, &new, at, "sms", Some("in-9"))
        .await
        .unwrap());
    assert!(store
        .suppress(&tenant, &new, at, "sms", Some("in-9"))
        .await
        .unwrap());
    drop(store);
    // Opening again finds the column there and changes nothing.
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.is_suppressed(&tenant, &new).await.unwrap());
}

/// A store file from when event ids were unique per tenant keeps its events, still knows
/// their ids as duplicates, and lets another customer use the same id.
#[tokio::test]
async fn a_store_file_with_event_ids_per_tenant_is_rekeyed_per_customer() {
    use nudge_core::domain::{CustomerId, EventId, TenantId};
    use nudge_core::ports::{CustomerStore, EventLog, EventOutcome};
    use nudge_sqlite::SqliteStore;
    use nudge_tests::conformance::{at, customer, event, event_commit, stored};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nudge.db");
    let old = rusqlite::Connection::open(&path).unwrap();
    let body = serde_json::to_string(&event("e1", "c1", at(2, 10, 0))).unwrap();
    old.execute_batch(
        "CREATE TABLE events (tenant TEXT NOT NULL, event_id TEXT NOT NULL,
             customer_id TEXT NOT NULL, occurred_at INTEGER NOT NULL, body TEXT NOT NULL,
             PRIMARY KEY (tenant, event_id));
         CREATE INDEX events_by_customer ON events (tenant, customer_id, occurred_at);",
    )
    .unwrap();
    old.execute(
        "INSERT INTO events VALUES ('acme', 'e1', 'c1', 1772445600, ?1)",
        [&body],
    )
    .unwrap();
    drop(old);

    let store = SqliteStore::open(&path).unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    let c1 = stored(&store, &customer("c1", "13800138001")).await;
    let c2 = stored(&store, &customer("c2", "13800138002")).await;
    let events = store.customer_events(&tenant, &c1.id, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    let id = EventId::parse("e1").unwrap();
    assert_eq!(
        store
            .recorded_event_type(&tenant, &c1.id, &id)
            .await
            .unwrap(),
        Some("order.paid".into())
    );
    let commit = |c: &nudge_core::domain::Customer, customer_id: &str| {
        event_commit(c, event("e1", customer_id, at(2, 10, 0)))
    };
    assert_eq!(
        store.record_event(&commit(&c1, "c1")).await.unwrap(),
        EventOutcome::Duplicate
    );
    assert_eq!(
        store.record_event(&commit(&c2, "c2")).await.unwrap(),
        EventOutcome::Recorded
    );
    drop(store);
    // Opening again finds the current key and changes nothing.
    let store = SqliteStore::open(&path).unwrap();
    let c2_id = CustomerId::parse("c2").unwrap();
    assert_eq!(
        store
            .customer_events(&tenant, &c2_id, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .get_customer(&tenant, &c2_id)
            .await
            .unwrap()
            .unwrap()
            .version,
        c2.version + 1
    );
}
