//! The inbound log (`inbound`): provider message ids of replies already handled, so a
//! redelivery has no second effect.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::params;

use nudge_core::domain::TenantId;
use nudge_core::error::Result;
use nudge_core::ports::InboundLog;

use crate::{secs, sql, SqliteStore};

#[async_trait]
impl InboundLog for SqliteStore {
    async fn record_inbound(
        &self,
        tenant: &TenantId,
        provider_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        self.with_conn(|conn| {
            let inserted = conn
                .execute(
                    "INSERT INTO inbound (tenant, provider_id, at) VALUES (?1, ?2, ?3)
                     ON CONFLICT DO NOTHING",
                    params![tenant.as_str(), provider_id, secs(at)],
                )
                .map_err(sql)?;
            Ok(inserted == 1)
        })
    }

    async fn forget_inbound(&self, tenant: &TenantId, provider_id: &str) -> Result<()> {
        self.with_conn(|conn| {
            conn.execute(
                "DELETE FROM inbound WHERE tenant = ?1 AND provider_id = ?2",
                params![tenant.as_str(), provider_id],
            )
            .map_err(sql)?;
            Ok(())
        })
    }
}
