//! The HTTP API over the embedded SQLite store, through the router (no sockets).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test

async fn fresh() -> std::sync::Arc<nudge_sqlite::SqliteStore> {
    std::sync::Arc::new(nudge_sqlite::SqliteStore::in_memory().unwrap())
}

http_api_tests!(fresh());
