//! The embedded SQLite store against the store conformance suite, in memory and on disk.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
mod common;

async fn fresh() -> std::sync::Arc<nudge_core::adapters::sqlite::SqliteStore> {
    std::sync::Arc::new(nudge_core::adapters::sqlite::SqliteStore::in_memory().unwrap())
}

conformance_tests!(fresh());

mod on_disk {
    use super::common;
    use nudge_core::adapters::sqlite::SqliteStore;

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

    crate::conformance_tests!(fresh_file());
}
