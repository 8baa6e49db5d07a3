//! Customer profiles (`customers`), and the versioned customer write that events and sends
//! commit in their own transactions.
use async_trait::async_trait;
use rusqlite::{params, Connection, Transaction};

use nudge_core::domain::{Customer, CustomerId, PhoneNumber, TenantId};
use nudge_core::error::{Error, Result};
use nudge_core::ports::CustomerStore;

use crate::{query_bodies, sql, to_json, SqliteStore};

/// Writes `c` as version `expected + 1`: created when `expected` is None (it must not exist
/// yet), replaced only while the stored version is `expected`. None when nothing was written.
pub(crate) fn write_customer(
    tx: &Transaction,
    c: &Customer,
    expected: Option<u64>,
) -> Result<Option<u64>> {
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

fn customer_row(conn: &Connection, tenant: &TenantId, id: &CustomerId) -> Result<Option<Customer>> {
    let mut found: Vec<Customer> = query_bodies(
        conn,
        "SELECT body FROM customers WHERE tenant = ?1 AND id = ?2",
        params![tenant.as_str(), id.as_str()],
    )?;
    Ok(found.pop())
}

#[async_trait]
impl CustomerStore for SqliteStore {
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
            // Queued texts go too (a sender's claim needs the row), with their dedupe keys.
            tx.execute(
                "DELETE FROM dedupe WHERE tenant = ?1 AND message_id IN
                 (SELECT id FROM messages WHERE tenant = ?1 AND customer_id = ?2)",
                args,
            )
            .map_err(sql)?;
            tx.execute(
                "DELETE FROM messages WHERE tenant = ?1 AND customer_id = ?2",
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
}
