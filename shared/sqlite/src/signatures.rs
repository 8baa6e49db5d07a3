//! The signature log (`signatures`): signatures of accepted signed requests, so a replay
//! within the signature's tolerance is refused. Rows that ended are deleted as new ones
//! arrive, so the table holds about one tolerance window of requests.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use nudge_core::domain::TenantId;
use nudge_core::error::Result;
use nudge_core::ports::SignatureLog;

use crate::{secs, sql, SqliteStore};

#[async_trait]
impl SignatureLog for SqliteStore {
    async fn record_signature(
        &self,
        tenant: &TenantId,
        signature: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        self.with_tx(|tx| {
            tx.prepare_cached("DELETE FROM signatures WHERE until < ?1")
                .map_err(sql)?
                .execute(params![secs(now)])
                .map_err(sql)?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO signatures (tenant, signature, until) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                )
                .map_err(sql)?
                .execute(params![tenant.as_str(), signature, secs(until)])
                .map_err(sql)?;
            Ok(inserted == 1)
        })
    }
}
