//! The event log (`events`): each event stored once by id, in one transaction with the
//! customer and timers it changes.
use async_trait::async_trait;
use rusqlite::{params, Transaction, TransactionBehavior};

use nudge_core::domain::{CustomerId, Event, TenantId};
use nudge_core::error::Result;
use nudge_core::ports::{EventCommit, EventLog, EventOutcome};

use crate::customers::write_customer;
use crate::due_index::write_timers;
use crate::{query_bodies, secs, sql, to_json, SqliteStore};

#[async_trait]
impl EventLog for SqliteStore {
    async fn record_event(&self, commit: &EventCommit) -> Result<EventOutcome> {
        let event = &commit.event;
        self.with_conn(|conn| {
            let tx = Transaction::new(conn, TransactionBehavior::Immediate).map_err(sql)?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO events (tenant, event_id, customer_id, occurred_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )
                .map_err(sql)?
                .execute(params![
                    event.tenant.as_str(),
                    event.event_id.as_str(),
                    event.customer_id.as_str(),
                    secs(event.occurred_at),
                    to_json(event)?
                ])
                .map_err(sql)?;
            if inserted == 0 {
                return Ok(EventOutcome::Duplicate);
            }
            if write_customer(&tx, &commit.customer, Some(commit.expected_version))?.is_none() {
                // Dropping the transaction rolls the event insert back.
                return Ok(EventOutcome::Conflict);
            }
            write_timers(&tx, &commit.timers)?;
            tx.commit().map_err(sql)?;
            Ok(EventOutcome::Recorded)
        })
    }

    async fn customer_events(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<Event>> {
        self.with_conn(|conn| {
            query_bodies(
                conn,
                "SELECT body FROM events WHERE tenant = ?1 AND customer_id = ?2
                 ORDER BY occurred_at DESC, event_id LIMIT ?3",
                params![tenant.as_str(), customer.as_str(), limit as i64],
            )
        })
    }
}
