//! The event log (`events`): each event stored once by id, in one transaction with the
//! customer and timers it changes.
use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use nudge_core::domain::{CustomerId, Event, EventId, TenantId};
use nudge_core::error::Result;
use nudge_core::ports::{EventCommit, EventLog, EventOutcome};

use crate::counters::add_counters;
use crate::customers::write_customer;
use crate::due_index::write_timers;
use crate::{from_json, query_bodies, secs, sql, to_json, SqliteStore};

#[async_trait]
impl EventLog for SqliteStore {
    async fn record_event(&self, commit: &EventCommit) -> Result<EventOutcome> {
        let event = &commit.event;
        self.with_conn(|conn| {
            let tx = Transaction::new(conn, TransactionBehavior::Immediate).map_err(sql)?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO events (tenant, customer_id, event_id, occurred_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )
                .map_err(sql)?
                .execute(params![
                    event.tenant.as_str(),
                    event.customer_id.as_str(),
                    event.event_id.as_str(),
                    secs(event.occurred_at),
                    to_json(event)?
                ])
                .map_err(sql)?;
            if inserted == 0 {
                let recorded =
                    recorded_type(&tx, &event.tenant, &event.customer_id, &event.event_id)?;
                return Ok(match recorded {
                    Some(t) if t != event.event_type => EventOutcome::IdReused { event_type: t },
                    _ => EventOutcome::Duplicate,
                });
            }
            if write_customer(&tx, &commit.customer, Some(commit.expected_version))?.is_none() {
                // Dropping the transaction rolls the event insert back.
                return Ok(EventOutcome::Conflict);
            }
            write_timers(&tx, &commit.timers)?;
            for row in &commit.stats {
                add_counters(&tx, &event.tenant, row.day, &row.rule, &row.counters)?;
            }
            tx.commit().map_err(sql)?;
            Ok(EventOutcome::Recorded)
        })
    }

    async fn recorded_event_type(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        id: &EventId,
    ) -> Result<Option<String>> {
        self.with_conn(|conn| recorded_type(conn, tenant, customer, id))
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

fn recorded_type(
    conn: &Connection,
    tenant: &TenantId,
    customer: &CustomerId,
    id: &EventId,
) -> Result<Option<String>> {
    let body: Option<String> = conn
        .prepare_cached(
            "SELECT body FROM events WHERE tenant = ?1 AND customer_id = ?2 AND event_id = ?3",
        )
        .map_err(sql)?
        .query_row(
            params![tenant.as_str(), customer.as_str(), id.as_str()],
            |row| row.get(0),
        )
        .optional()
        .map_err(sql)?;
    body.map(|body| from_json::<Event>(&body).map(|e| e.event_type))
        .transpose()
}
