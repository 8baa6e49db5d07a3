//! The embedded store: SQLite (bundled) with the same semantics as the DynamoDB table —
//! atomic commits, conditional writes on the customer version, idempotent event ids, a dedupe
//! key per rule occurrence and a due-timer index. One connection, one writer (WAL on files).
//!
//! Each store role is implemented in the module that owns its tables: `customers`, `events`,
//! `due_index` (timers and the checkpoint), `messages` (messages and dedupe keys),
//! `suppressions`, `counters` (stats and free-text reply counts), `api_keys` and `inbound`.
//! A commit that spans roles (an event with its customer and timers, a send with its
//! customer, timer and counters) runs in one transaction and writes each table through the
//! helper of the module that owns it.
mod api_keys;
mod counters;
mod customers;
mod due_index;
mod events;
mod inbound;
mod messages;
mod schema;
mod signatures;
mod suppressions;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::Mutex;

use nudge_core::error::{Error, Result};

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

    fn init(mut conn: Connection) -> Result<Self> {
        // Without the planner stability guarantee, SQLite (built with STAT4) re-prepares a
        // cached statement every time a range parameter is rebound: a third of the CPU time of
        // a simulation went there.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )
        .map_err(sql)?;
        schema::create_or_upgrade(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    /// A setting of this local installation (not one of the store roles: production has none).
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
