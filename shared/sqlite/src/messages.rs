//! Messages and the outbox (`messages`, with the `dedupe` keys of decided occurrences):
//! decisions committed with the customer's ledger, the consumed timer and their counters, then
//! claimed and finished by the sender.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use nudge_core::domain::{CustomerId, Message, MessageId, MessageStatus, TenantId, Timer};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{Claim, CommitOutcome, Counters, MessageState, MessageStore, SendCommit};

use crate::counters::add_counters;
use crate::customers::write_customer;
use crate::due_index::remove_timer;
use crate::suppressions::is_suppressed;
use crate::{is_constraint, query_bodies, secs, sql, to_json, SqliteStore};

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
        secs(due_at(m, m.created_at)),
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

/// The `next_attempt_at` column orders three queues: queued messages by their next attempt,
/// held ones (`sending`, `dispatched`) by the end of their lease, when the sweep settles
/// them, and sent ones by when they were sent, when the sweep stops waiting for their
/// receipt. `otherwise` is for a message with none of these.
fn due_at(m: &Message, otherwise: DateTime<Utc>) -> DateTime<Utc> {
    if m.status.is_leased() {
        m.lease_until.unwrap_or(otherwise)
    } else if m.status == MessageStatus::Sent {
        m.sent_at.unwrap_or(otherwise)
    } else {
        m.next_attempt_at.unwrap_or(otherwise)
    }
}

/// Replaces the stored message with `m` if it is still in state `from`; false otherwise.
/// (A row written before messages counted attempts counts none.)
fn replace_message(conn: &Connection, m: &Message, from: MessageState) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "UPDATE messages SET status = ?3, next_attempt_at = ?4, body = ?5
             WHERE tenant = ?1 AND id = ?2 AND status = ?6
             AND COALESCE(json_extract(body, '$.attempts'), 0) = ?7",
        )
        .map_err(sql)?
        .execute(params![
            m.tenant.as_str(),
            m.id.as_str(),
            m.status.as_str(),
            secs(due_at(m, m.updated_at)),
            to_json(m)?,
            from.status.as_str(),
            from.attempts
        ])
        .map_err(sql)?;
    Ok(changed == 1)
}

#[async_trait]
impl MessageStore for SqliteStore {
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

    async fn unreceipted_messages(
        &self,
        sent_by: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Message>> {
        self.with_conn(|conn| {
            query_bodies(
                conn,
                "SELECT body FROM messages WHERE status = 'sent' AND next_attempt_at <= ?1
                 ORDER BY next_attempt_at, created_at LIMIT ?2",
                params![secs(sent_by), limit as i64],
            )
        })
    }

    async fn expired_leases(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Message>> {
        self.with_conn(|conn| {
            query_bodies(
                conn,
                "SELECT body FROM messages WHERE status IN ('sending', 'dispatched')
                 AND next_attempt_at <= ?1 ORDER BY next_attempt_at, created_at LIMIT ?2",
                params![secs(now), limit as i64],
            )
        })
    }

    async fn transition_message(&self, message: &Message, from: MessageState) -> Result<bool> {
        self.with_conn(|conn| replace_message(conn, message, from))
    }

    async fn claim_message(&self, claimed: &Message) -> Result<Claim> {
        self.with_tx(|tx| {
            let read = MessageState {
                status: MessageStatus::Queued,
                attempts: claimed.attempts.saturating_sub(1),
            };
            let claimable = tx
                .prepare_cached(
                    "SELECT 1 FROM messages WHERE tenant = ?1 AND id = ?2 AND status = ?3
                     AND COALESCE(json_extract(body, '$.attempts'), 0) = ?4",
                )
                .map_err(sql)?
                .exists(params![
                    claimed.tenant.as_str(),
                    claimed.id.as_str(),
                    read.status.as_str(),
                    read.attempts
                ])
                .map_err(sql)?;
            if !claimable {
                return Ok(Claim::Lost);
            }
            if !claimed.ignores_suppression && is_suppressed(tx, &claimed.tenant, &claimed.phone)? {
                return Ok(Claim::Suppressed);
            }
            replace_message(tx, claimed, read)?;
            Ok(Claim::Claimed)
        })
    }

    async fn finish_message(
        &self,
        message: &Message,
        from: MessageState,
        stats: &Counters,
    ) -> Result<bool> {
        self.with_tx(|tx| {
            if !replace_message(tx, message, from)? {
                return Ok(false);
            }
            let day = message.counted_on();
            add_counters(tx, &message.tenant, day, message.rule.as_str(), stats)?;
            Ok(true)
        })
    }

    /// Through the `messages_by_provider_id` index; kept as long as the message is (at
    /// least [`nudge_core::ports::PROVIDER_ID_KEPT_DAYS`], as the trait asks).
    async fn message_by_provider_id(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> Result<Option<Message>> {
        self.with_conn(|conn| {
            let mut found: Vec<Message> = query_bodies(
                conn,
                "SELECT body FROM messages
                 WHERE json_extract(body, '$.provider_id') = ?2
                 AND json_extract(body, '$.provider') = ?1 LIMIT 2",
                params![provider, provider_id],
            )?;
            if found.len() > 1 {
                return Err(Error::Store(format!(
                    "two messages have {provider} id {provider_id}"
                )));
            }
            Ok(found.pop())
        })
    }
}
