//! The suppression list (`suppression`): numbers never texted, per tenant and phone number;
//! it survives customer deletion.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection};

use nudge_core::domain::{PhoneNumber, TenantId};
use nudge_core::error::Result;
use nudge_core::ports::SuppressionList;

use crate::{secs, sql, SqliteStore};

/// Takes a connection (a transaction is one) so that claiming a message checks the list in the
/// same transaction that changes the message.
pub(crate) fn is_suppressed(
    conn: &Connection,
    tenant: &TenantId,
    phone: &PhoneNumber,
) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM suppression WHERE tenant = ?1 AND phone = ?2")
        .map_err(sql)?
        .exists(params![tenant.as_str(), phone.as_str()])
        .map_err(sql)
}

#[async_trait]
impl SuppressionList for SqliteStore {
    async fn is_suppressed(&self, tenant: &TenantId, phone: &PhoneNumber) -> Result<bool> {
        self.with_conn(|conn| is_suppressed(conn, tenant, phone))
    }

    async fn suppress(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
        at: DateTime<Utc>,
        source: &str,
        reference: Option<&str>,
    ) -> Result<bool> {
        self.with_tx(|tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO suppression (tenant, phone, at, source, reference)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                    params![tenant.as_str(), phone.as_str(), secs(at), source, reference],
                )
                .map_err(sql)?;
            if inserted == 1 {
                return Ok(true);
            }
            let Some(reference) = reference else {
                return Ok(false);
            };
            tx.prepare_cached(
                "SELECT 1 FROM suppression WHERE tenant = ?1 AND phone = ?2 AND reference = ?3",
            )
            .map_err(sql)?
            .exists(params![tenant.as_str(), phone.as_str(), reference])
            .map_err(sql)
        })
    }

    async fn unsuppress(&self, tenant: &TenantId, phone: &PhoneNumber) -> Result<bool> {
        self.with_conn(|conn| {
            let removed = conn
                .execute(
                    "DELETE FROM suppression WHERE tenant = ?1 AND phone = ?2",
                    params![tenant.as_str(), phone.as_str()],
                )
                .map_err(sql)?;
            Ok(removed == 1)
        })
    }
}
