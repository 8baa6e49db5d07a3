//! Table definitions of the embedded store, and the columns a file created by an earlier version
//! lacks. JSON bodies hold the domain objects; the columns beside them exist only for keys,
//! indexes and conditional writes.
use rusqlite::Connection;

use nudge_core::error::Result;

use crate::sql;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS customers (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    phone TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS customers_by_phone ON customers (tenant, phone);

CREATE TABLE IF NOT EXISTS timers (
    tenant TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    due INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, customer_id, rule, occurrence)
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due);

CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    minute INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS messages (
    tenant TEXT NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, id)
);
CREATE INDEX IF NOT EXISTS messages_by_customer ON messages (tenant, customer_id, created_at);
CREATE INDEX IF NOT EXISTS messages_sendable ON messages (status, next_attempt_at);
-- Receipts find their text by the provider's id of it.
CREATE INDEX IF NOT EXISTS messages_by_provider_id ON messages (
    json_extract(body, '$.provider_id'), json_extract(body, '$.provider')
);

CREATE TABLE IF NOT EXISTS dedupe (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (tenant, key)
);

CREATE TABLE IF NOT EXISTS suppression (
    tenant TEXT NOT NULL,
    phone TEXT NOT NULL,
    at INTEGER NOT NULL,
    source TEXT NOT NULL,
    reference TEXT,
    PRIMARY KEY (tenant, phone)
);

CREATE TABLE IF NOT EXISTS stats (
    tenant TEXT NOT NULL,
    day TEXT NOT NULL,
    rule TEXT NOT NULL,
    counter TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (tenant, day, rule, counter)
);

-- Free-text replies per day, normalised and cut to 160 characters, for reports.
CREATE TABLE IF NOT EXISTS reply_texts (
    tenant TEXT NOT NULL,
    day TEXT NOT NULL,
    text TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (tenant, day, text)
);

CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

-- Settings of a local installation (`nudge dev`), e.g. its development API key.
CREATE TABLE IF NOT EXISTS local_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Signatures of accepted signed requests, until their timestamp is too old anyway.
CREATE TABLE IF NOT EXISTS signatures (
    tenant TEXT NOT NULL,
    signature TEXT NOT NULL,
    until INTEGER NOT NULL,
    PRIMARY KEY (tenant, signature)
);
CREATE INDEX IF NOT EXISTS signatures_by_until ON signatures (until);

CREATE TABLE IF NOT EXISTS inbound (
    tenant TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (tenant, provider_id)
);
"#;

/// The event log. An event id is the customer's own: the key includes the customer.
const EVENTS: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    tenant TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (tenant, customer_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_customer ON events (tenant, customer_id, occurred_at);
"#;

/// Columns added after a table was first released: (table, column, definition). A store
/// file created before gets them when it is opened.
const ADDED_COLUMNS: &[(&str, &str, &str)] = &[("suppression", "reference", "TEXT")];

/// Creates the tables, and brings a store file created by an earlier version up to them.
pub(crate) fn create_or_upgrade(conn: &mut Connection) -> Result<()> {
    conn.execute_batch(SCHEMA).map_err(sql)?;
    rekey_events(conn)?;
    conn.execute_batch(EVENTS).map_err(sql)?;
    add_missing_columns(conn)
}

/// Earlier releases keyed events by (tenant, event_id): one id per tenant. The rows move to
/// the current key in one transaction (an id was unique per tenant, so it is per customer).
fn rekey_events(conn: &mut Connection) -> Result<()> {
    let key: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('events') WHERE pk > 0 ORDER BY pk")
        .map_err(sql)?
        .query_map([], |row| row.get(0))
        .map_err(sql)?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql)?;
    if key != ["tenant", "event_id"] {
        return Ok(());
    }
    let tx = conn.transaction().map_err(sql)?;
    tx.execute_batch(
        "ALTER TABLE events RENAME TO events_keyed_by_tenant;
         DROP INDEX IF EXISTS events_by_customer;",
    )
    .map_err(sql)?;
    tx.execute_batch(EVENTS).map_err(sql)?;
    tx.execute_batch(
        "INSERT INTO events (tenant, customer_id, event_id, occurred_at, body)
         SELECT tenant, customer_id, event_id, occurred_at, body FROM events_keyed_by_tenant;
         DROP TABLE events_keyed_by_tenant;",
    )
    .map_err(sql)?;
    tx.commit().map_err(sql)
}

fn add_missing_columns(conn: &Connection) -> Result<()> {
    for (table, column, definition) in ADDED_COLUMNS {
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
