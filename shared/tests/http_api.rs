//! The HTTP API over the embedded SQLite store, through the router (no sockets).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed unwrap is a failed test
#[path = "http/suite.rs"]
mod suite;

async fn fresh() -> std::sync::Arc<nudge_core::adapters::sqlite::SqliteStore> {
    std::sync::Arc::new(nudge_core::adapters::sqlite::SqliteStore::in_memory().unwrap())
}

http_api_tests!(fresh());
