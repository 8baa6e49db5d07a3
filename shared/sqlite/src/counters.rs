//! Counters per tenant, day and rule (`stats`), and the free-text reply counts the reports
//! read (`reply_texts`).
use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{params, Transaction};

use nudge_core::domain::TenantId;
use nudge_core::error::{Error, Result};
use nudge_core::ports::{reply_text_key, CounterStore, Counters, ReplyTextCount, StatsRow};

use crate::{sql, SqliteStore};

/// Adds `counters` inside the caller's transaction, so that a message write and its counters
/// are committed together.
pub(crate) fn add_counters(
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

#[async_trait]
impl CounterStore for SqliteStore {
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
}
