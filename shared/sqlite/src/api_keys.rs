//! API keys (`api_keys`), found by id; only the secret's hash is stored.
use async_trait::async_trait;
use rusqlite::params;

use nudge_core::domain::ApiKey;
use nudge_core::error::Result;
use nudge_core::ports::ApiKeyStore;

use crate::{query_bodies, sql, to_json, SqliteStore};

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn put_api_key(&self, key: &ApiKey) -> Result<()> {
        self.with_conn(|conn| {
            conn.execute(
                "INSERT INTO api_keys (id, body) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                params![key.id, to_json(key)?],
            )
            .map_err(sql)?;
            Ok(())
        })
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        self.with_conn(|conn| {
            let mut found: Vec<ApiKey> =
                query_bodies(conn, "SELECT body FROM api_keys WHERE id = ?1", params![id])?;
            Ok(found.pop())
        })
    }
}
