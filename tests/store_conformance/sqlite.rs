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
