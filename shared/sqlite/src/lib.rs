//! The embedded store: SQLite (bundled) with the same semantics as the DynamoDB table —
//! atomic commits, conditional writes on the customer version, idempotent event ids, a dedupe
//! key per rule occurrence and a due-timer index. One connection, one writer (WAL on files).
mod schema;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;

use nudge_core::domain::{
    ApiKey, Customer, CustomerId, Event, Message, MessageId, MessageStatus, PhoneNumber, TenantId,
    Timer,
};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{
    reply_text_key, Claim, CommitOutcome, Counters, EventCommit, EventOutcome, ReplyTextCount,
    SendCommit, StatsRow, Store,
};

pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) a store file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(|e| Error::Store(format!("opening {}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        Self::init(conn)
    }

    /// A private in-memory store (simulations, tests).
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory().map_err(sql)?)
    }

    fn init(conn: Connection) -> Result<Self> {
        // Without the planner stability guarantee, SQLite (built with STAT4) re-prepares a
        // cached statement every time a range parameter is rebound: a third of the CPU time of
        // a simulation went there.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(sql)?;
        conn.execute_batch(schema::SCHEMA).map_err(sql)?;
        add_missing_columns(&conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// A setting of this local installation (not part of the `Store` port: production has none).
    pub fn local_setting(&self, name: &str) -> Result<Option<String>> {
        self.with_conn(|conn| {
            conn.query_row(
                "SELECT value FROM local_settings WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql)
        })
    }

    pub fn set_local_setting(&self, name: &str, value: &str) -> Result<()> {
        self.with_conn(|conn| {
            conn.execute(
                "INSERT INTO local_settings (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map_err(sql)?;
            Ok(())
        })
    }

    fn with_conn<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| Error::store("sqlite connection poisoned"))?;
        f(&mut conn)
    }

    /// Runs `f` in an immediate transaction, committed only when `f` returns Ok.
    fn with_tx<T>(&self, f: impl FnOnce(&Transaction) -> Result<T>) -> Result<T> {
        self.with_conn(|conn| {
            let tx = Transaction::new(conn, TransactionBehavior::Immediate).map_err(sql)?;
            let value = f(&tx)?;
            tx.commit().map_err(sql)?;
            Ok(value)
        })
    }
}

/// Brings a store file created by an earlier version up to the current tables.
fn add_missing_columns(conn: &Connection) -> Result<()> {
    for (table, column, definition) in schema::ADDED_COLUMNS {
        let present = conn
            .prepare(&format!(
                "SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"
            ))
            .map_err(sql)?
            .exists([column])
            .map_err(sql)?;
        if !present {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN {column} {definition}"
            ))
            .map_err(sql)?;
        }
    }
    Ok(())
}

fn sql(e: rusqlite::Error) -> Error {
    Error::Store(format!("sqlite: {e}"))
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Store(format!("encoding: {e}")))
}

fn from_json<T: DeserializeOwned>(body: &str) -> Result<T> {
    serde_json::from_str(body).map_err(|e| Error::Store(format!("decoding stored item: {e}")))
}

fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

fn from_secs(s: i64) -> Result<DateTime<Utc>> {
    Utc.timestamp_opt(s, 0)
        .single()
        .ok_or_else(|| Error::Store(format!("bad timestamp {s}")))
}

fn write_customer(tx: &Transaction, c: &Customer, expected: Option<u64>) -> Result<Option<u64>> {
    let new_version = expected.map_or(1, |v| v + 1);
    let mut stored = c.clone();
    stored.version = new_version;
    let body = to_json(&stored)?;
    let changed = match expected {
        None => tx
            .prepare_cached(
                "INSERT INTO customers (tenant, id, phone, version, body)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    c.tenant.as_str(),
                    c.id.as_str(),
                    c.phone.as_str(),
                    new_version,
                    body
                ])
            }),
        Some(v) => tx
            .prepare_cached(
                "UPDATE customers SET phone = ?3, version = ?4, body = ?5
                 WHERE tenant = ?1 AND id = ?2 AND version = ?6",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![
                    c.tenant.as_str(),
                    c.id.as_str(),
                    c.phone.as_str(),
                    new_version,
                    body,
                    v
                ])
            }),
    }
    .map_err(sql)?;
    Ok((changed == 1).then_some(new_version))
}

fn write_timers(tx: &Transaction, timers: &[Timer]) -> Result<()> {
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

fn remove_timer(tx: &Transaction, t: &Timer) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM timers WHERE tenant = ?1 AND customer_id = ?2 AND rule = ?3 AND occurrence = ?4",
    )
    .map_err(sql)?
    .execute(params![t.tenant.as_str(), t.customer_id.as_str(), t.rule.as_str(), t.occurrence])
    .map_err(sql)?;
    Ok(())
}

fn insert_message(tx: &Transaction, m: &Message) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO messages (tenant, id, customer_id, status, created_at, next_attempt_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .map_err(sql)?
    .execute(params![
        m.tenant.as_str(),
        m.id.as_str(),
        m.customer_id.as_str(),
        m.status.as_str(),
        secs(m.created_at),
        secs(m.next_attempt_at.unwrap_or(m.created_at)),
        to_json(m)?
    ])
    .map_err(sql)?;
    Ok(())
}

/// Claims the message's dedupe key; false when it was claimed before.
fn insert_dedupe(tx: &Transaction, m: &Message) -> Result<bool> {
    let inserted = tx
        .prepare_cached("INSERT INTO dedupe (tenant, key, message_id) VALUES (?1, ?2, ?3)")
        .map_err(sql)?
        .execute(params![
            m.tenant.as_str(),
            m.own_dedupe_key(),
            m.id.as_str()
        ]);
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if is_constraint(&e) => Ok(false),
        Err(e) => Err(sql(e)),
    }
}

fn message_exists(tx: &Transaction, m: &Message) -> Result<bool> {
    tx.prepare_cached("SELECT 1 FROM messages WHERE tenant = ?1 AND id = ?2")
        .map_err(sql)?
        .exists(params![m.tenant.as_str(), m.id.as_str()])
        .map_err(sql)
}

/// Replaces the stored message with `m` if it is still in `from`; false otherwise.
fn replace_message(conn: &Connection, m: &Message, from: MessageStatus) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE messages SET status = ?3, next_attempt_at = ?4, body = ?5
             WHERE tenant = ?1 AND id = ?2 AND status = ?6",
        )
        .map_err(sql)?
        .execute(params![
            m.tenant.as_str(),
            m.id.as_str(),
            m.status.as_str(),
            secs(m.next_attempt_at.unwrap_or(m.updated_at)),
            to_json(m)?,
            from.as_str()
        ])
        .map_err(sql)?;
    Ok(changed == 1)
}

fn is_suppressed(conn: &Connection, tenant: &TenantId, phone: &PhoneNumber) -> Result<bool> {
    conn.prepare_cached("SELECT 1 FROM suppression WHERE tenant = ?1 AND phone = ?2")
        .map_err(sql)?
        .exists(params![tenant.as_str(), phone.as_str()])
        .map_err(sql)
}

fn add_counters(
    tx: &Transaction,
    tenant: &TenantId,
    day: NaiveDate,
    rule: &str,
    counters: &Counters,
) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO stats (tenant, day, rule, counter, value) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, day, rule, counter) DO UPDATE SET value = value + excluded.value",
        )
        .map_err(sql)?;
    let day = day.to_string();
    for (counter, value) in counters {
        stmt.execute(params![tenant.as_str(), day, rule, counter, value])
            .map_err(sql)?;
    }
    Ok(())
}

fn query_bodies<T: DeserializeOwned>(
    conn: &Connection,
    query: &str,
    args: impl rusqlite::Params,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(query).map_err(sql)?;
    let bodies = stmt
        .query_map(args, |row| row.get::<_, String>(0))
        .map_err(sql)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(sql)?;
    bodies.iter().map(|b| from_json(b)).collect()
}

fn customer_row(conn: &Connection, tenant: &TenantId, id: &CustomerId) -> Result<Option<Customer>> {
    let mut found: Vec<Customer> = query_bodies(
        conn,
        "SELECT body FROM customers WHERE tenant = ?1 AND id = ?2",
        params![tenant.as_str(), id.as_str()],
    )?;
    Ok(found.pop())
}

#[async_trait]
impl Store for SqliteStore {
    async fn get_customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<Option<Customer>> {
        self.with_conn(|conn| customer_row(conn, tenant, id))
    }

    async fn get_customers(&self, ids: &[(TenantId, CustomerId)]) -> Result<Vec<Customer>> {
        let mut unique: Vec<&(TenantId, CustomerId)> = ids.iter().collect();
        unique.sort();
        unique.dedup();
        self.with_conn(|conn| {
            let mut found = Vec::with_capacity(unique.len());
            for (tenant, id) in unique {
                found.extend(customer_row(conn, tenant, id)?);
            }
            Ok(found)
        })
    }

    async fn put_customer(
        &self,
        customer: &Customer,
        expected_version: Option<u64>,
    ) -> Result<u64> {
        self.with_tx(|tx| {
            write_customer(tx, customer, expected_version)?.ok_or_else(|| {
                Error::Conflict(format!("customer {} changed concurrently", customer.id))
            })
        })
    }

    async fn delete_customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<bool> {
        self.with_tx(|tx| {
            let args = params![tenant.as_str(), id.as_str()];
            let removed = tx
                .execute("DELETE FROM customers WHERE tenant = ?1 AND id = ?2", args)
                .map_err(sql)?;
            tx.execute(
                "DELETE FROM events WHERE tenant = ?1 AND customer_id = ?2",
                args,
            )
            .map_err(sql)?;
            tx.execute(
                "DELETE FROM timers WHERE tenant = ?1 AND customer_id = ?2",
                args,
            )
            .map_err(sql)?;
            Ok(removed == 1)
        })
    }

    async fn find_customer_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<Customer>> {
        self.with_conn(|conn| {
            let mut found: Vec<Customer> = query_bodies(
                conn,
                "SELECT body FROM customers WHERE tenant = ?1 AND phone = ?2 ORDER BY id LIMIT 1",
                params![tenant.as_str(), phone.as_str()],
            )?;
            Ok(found.pop())
        })
    }

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

    async fn commit_send(&self, commit: &SendCommit) -> Result<CommitOutcome> {
        let m = &commit.message;
        self.with_conn(|conn| {
            let tx = Transaction::new(conn, TransactionBehavior::Immediate).map_err(sql)?;
            if !insert_dedupe(&tx, m)? {
                return Ok(CommitOutcome::Duplicate);
            }
            if write_customer(&tx, &commit.customer, Some(commit.expected_version))?.is_none() {
                return Ok(CommitOutcome::Conflict);
            }
            insert_message(&tx, m)?;
            if let Some(timer) = &commit.timer {
                remove_timer(&tx, timer)?;
            }
            add_counters(
                &tx,
                &m.tenant,
                m.created_at.date_naive(),
                m.rule.as_str(),
                &commit.stats,
            )?;
            tx.commit().map_err(sql)?;
            Ok(CommitOutcome::Committed)
        })
    }

    async fn queue_message(&self, message: &Message, stats: &Counters) -> Result<CommitOutcome> {
        self.with_conn(|conn| {
            let tx = Transaction::new(conn, TransactionBehavior::Immediate).map_err(sql)?;
            if !insert_dedupe(&tx, message)? {
                return Ok(CommitOutcome::Duplicate);
            }
            insert_message(&tx, message)?;
            let day = message.created_at.date_naive();
            add_counters(&tx, &message.tenant, day, message.rule.as_str(), stats)?;
            tx.commit().map_err(sql)?;
            Ok(CommitOutcome::Committed)
        })
    }

    async fn record_skip(
        &self,
        message: &Message,
        timer: Option<&Timer>,
        stats: &Counters,
    ) -> Result<()> {
        self.with_tx(|tx| {
            match insert_message(tx, message) {
                Ok(()) => {}
                // The same skip recorded before (a re-run tick): everything else was done too.
                Err(Error::Store(_)) if message_exists(tx, message)? => return Ok(()),
                Err(e) => return Err(e),
            }
            if let Some(timer) = timer {
                remove_timer(tx, timer)?;
            }
            let day = message.created_at.date_naive();
            add_counters(tx, &message.tenant, day, message.rule.as_str(), stats)
        })
    }

    async fn get_message(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<Message>> {
        self.with_conn(|conn| {
            let mut found: Vec<Message> = query_bodies(
                conn,
                "SELECT body FROM messages WHERE tenant = ?1 AND id = ?2",
                params![tenant.as_str(), id.as_str()],
            )?;
            Ok(found.pop())
        })
    }

    async fn customer_messages(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<Message>> {
        self.with_conn(|conn| {
            query_bodies(
                conn,
                "SELECT body FROM messages WHERE tenant = ?1 AND customer_id = ?2
                 ORDER BY created_at DESC, id DESC LIMIT ?3",
                params![tenant.as_str(), customer.as_str(), limit as i64],
            )
        })
    }

    async fn sendable_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Message>> {
        self.with_conn(|conn| {
            query_bodies(
                conn,
                "SELECT body FROM messages WHERE status = 'queued' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, created_at LIMIT ?2",
                params![secs(now), limit as i64],
            )
        })
    }

    async fn transition_message(&self, message: &Message, from: MessageStatus) -> Result<bool> {
        self.with_conn(|conn| replace_message(conn, message, from))
    }

    async fn claim_message(&self, claimed: &Message) -> Result<Claim> {
        self.with_tx(|tx| {
            let read_attempts = claimed.attempts.saturating_sub(1);
            let claimable = tx
                .prepare_cached(
                    "SELECT 1 FROM messages WHERE tenant = ?1 AND id = ?2 AND status = ?3
                     AND json_extract(body, '$.attempts') = ?4",
                )
                .map_err(sql)?
                .exists(params![
                    claimed.tenant.as_str(),
                    claimed.id.as_str(),
                    MessageStatus::Queued.as_str(),
                    read_attempts
                ])
                .map_err(sql)?;
            if !claimable {
                return Ok(Claim::Lost);
            }
            if !claimed.ignores_suppression && is_suppressed(tx, &claimed.tenant, &claimed.phone)? {
                return Ok(Claim::Suppressed);
            }
            replace_message(tx, claimed, MessageStatus::Queued)?;
            Ok(Claim::Claimed)
        })
    }

    async fn finish_message(
        &self,
        message: &Message,
        from: MessageStatus,
        stats: &Counters,
    ) -> Result<bool> {
        self.with_tx(|tx| {
            if !replace_message(tx, message, from)? {
                return Ok(false);
            }
            let day = message.updated_at.date_naive();
            add_counters(tx, &message.tenant, day, message.rule.as_str(), stats)?;
            Ok(true)
        })
    }

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

    async fn add_stats(
        &self,
        tenant: &TenantId,
        day: NaiveDate,
        rule: &str,
        counters: &Counters,
    ) -> Result<()> {
        if counters.is_empty() {
            return Ok(());
        }
        self.with_tx(|tx| add_counters(tx, tenant, day, rule, counters))
    }

    async fn stats(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StatsRow>> {
        self.with_conn(|conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT day, rule, counter, value FROM stats
                     WHERE tenant = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day, rule, counter",
                )
                .map_err(sql)?;
            let rows = stmt
                .query_map(
                    params![tenant.as_str(), from.to_string(), to.to_string()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get(2)?,
                            r.get(3)?,
                        ))
                    },
                )
                .map_err(sql)?
                .collect::<rusqlite::Result<Vec<(String, String, String, i64)>>>()
                .map_err(sql)?;
            let mut out: Vec<StatsRow> = Vec::new();
            for (day, rule, counter, value) in rows {
                let day: NaiveDate = day
                    .parse()
                    .map_err(|e| Error::Store(format!("bad stats day {day:?}: {e}")))?;
                match out.last_mut() {
                    Some(row) if row.day == day && row.rule == rule => {
                        row.counters.insert(counter, value);
                    }
                    _ => out.push(StatsRow {
                        day,
                        rule,
                        counters: [(counter, value)].into(),
                    }),
                }
            }
            Ok(out)
        })
    }

    async fn add_reply_text(&self, tenant: &TenantId, day: NaiveDate, text: &str) -> Result<()> {
        let text = reply_text_key(text);
        if text.is_empty() {
            return Ok(());
        }
        self.with_conn(|conn| {
            conn.prepare_cached(
                "INSERT INTO reply_texts (tenant, day, text, count) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (tenant, day, text) DO UPDATE SET count = count + 1",
            )
            .map_err(sql)?
            .execute(params![tenant.as_str(), day.to_string(), text])
            .map_err(sql)?;
            Ok(())
        })
    }

    async fn top_reply_texts(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
        limit: usize,
    ) -> Result<Vec<ReplyTextCount>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with_conn(|conn| {
            conn.prepare_cached(
                "SELECT text, SUM(count) AS total FROM reply_texts
                 WHERE tenant = ?1 AND day >= ?2 AND day <= ?3
                 GROUP BY text ORDER BY total DESC, text ASC LIMIT ?4",
            )
            .map_err(sql)?
            .query_map(
                params![tenant.as_str(), from.to_string(), to.to_string(), limit],
                |r| {
                    Ok(ReplyTextCount {
                        text: r.get(0)?,
                        count: r.get(1)?,
                    })
                },
            )
            .map_err(sql)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(sql)
        })
    }

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
