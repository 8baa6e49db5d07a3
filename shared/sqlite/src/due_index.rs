//! The due index: timers (`timers`, indexed by due minute) and the scheduler's checkpoint
//! (`checkpoint`).
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension, Transaction};

use nudge_core::domain::{CustomerId, TenantId, Timer};
use nudge_core::error::Result;
use nudge_core::ports::DueIndex;

use crate::{from_secs, query_bodies, secs, sql, to_json, SqliteStore};

/// Inserts the timers, or moves them (due minute and body) when they exist.
pub(crate) fn write_timers(tx: &Transaction, timers: &[Timer]) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO timers (tenant, customer_id, rule, occurrence, due, body)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (tenant, customer_id, rule, occurrence)
             DO UPDATE SET due = excluded.due, body = excluded.body",
        )
        .map_err(sql)?;
    for t in timers {
        stmt.execute(params![
            t.tenant.as_str(),
            t.customer_id.as_str(),
            t.rule.as_str(),
            t.occurrence,
            secs(t.due),
            to_json(t)?
        ])
        .map_err(sql)?;
    }
    Ok(())
}

/// Removes one timer (identity: tenant, customer, rule, occurrence); a missing one is no error.
pub(crate) fn remove_timer(tx: &Transaction, t: &Timer) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM timers WHERE tenant = ?1 AND customer_id = ?2 AND rule = ?3 AND occurrence = ?4",
    )
    .map_err(sql)?
    .execute(params![t.tenant.as_str(), t.customer_id.as_str(), t.rule.as_str(), t.occurrence])
    .map_err(sql)?;
    Ok(())
}

#[async_trait]
impl DueIndex for SqliteStore {
    async fn customer_timers(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> Result<Vec<Timer>> {
        self.with_conn(|conn| {
            query_bodies(
                conn,
                "SELECT body FROM timers WHERE tenant = ?1 AND customer_id = ?2 ORDER BY due, rule",
                params![tenant.as_str(), customer.as_str()],
            )
        })
    }

    async fn put_timers(&self, timers: &[Timer]) -> Result<()> {
        if timers.is_empty() {
            return Ok(());
        }
        self.with_tx(|tx| write_timers(tx, timers))
    }

    async fn delete_timers(&self, timers: &[Timer]) -> Result<()> {
        if timers.is_empty() {
            return Ok(());
        }
        self.with_tx(|tx| timers.iter().try_for_each(|t| remove_timer(tx, t)))
    }

    async fn reschedule_timer(&self, timer: &Timer, due: DateTime<Utc>) -> Result<()> {
        let mut moved = timer.clone();
        moved.due = due;
        self.with_tx(|tx| write_timers(tx, std::slice::from_ref(&moved)))
    }

    async fn due_timers(&self, minute: DateTime<Utc>) -> Result<Vec<Timer>> {
        let start = secs(minute);
        self.with_conn(|conn| {
            query_bodies(
                conn,
                "SELECT body FROM timers WHERE due >= ?1 AND due < ?2
                 ORDER BY due, tenant, customer_id, rule, occurrence",
                params![start, start + 60],
            )
        })
    }

    async fn checkpoint(&self) -> Result<Option<DateTime<Utc>>> {
        self.with_conn(|conn| {
            let minute: Option<i64> = conn
                .query_row("SELECT minute FROM checkpoint WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql)?;
            minute.map(from_secs).transpose()
        })
    }

    async fn set_checkpoint(&self, minute: DateTime<Utc>) -> Result<()> {
        self.with_conn(|conn| {
            conn.prepare_cached(
                "INSERT INTO checkpoint (id, minute) VALUES (1, ?1)
                 ON CONFLICT (id) DO UPDATE SET minute = MAX(minute, excluded.minute)",
            )
            .map_err(sql)?
            .execute(params![secs(minute)])
            .map_err(sql)?;
            Ok(())
        })
    }
}
