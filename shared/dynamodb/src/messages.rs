//! Messages: the send transaction (dedupe + customer ledger + message + timer + stats), the
//! outbox (sparse GSI2) and conditional status transitions.
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;
use std::time::Duration;

use super::errors::Cancelled;
use super::items::{self, s, Item};
use super::keys;
use super::paging::{self, QuerySpec};
use super::tx::{Condition, Writes};
use super::DynamoStore;
use nudge_core::domain::{CustomerId, Message, MessageId, MessageStatus, TenantId, Timer};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{Claim, CommitOutcome, Counters, MessageState, MessageStore, SendCommit};

/// The first write of every message transaction: the dedupe key (send, queue) or the
/// message's lookup item (skip). Its failed condition means "already done".
const FIRST: usize = 0;

/// Attempts at recording a send result whose transaction lost a race on the stats item.
const FINISH_ATTEMPTS: u32 = 6;

fn id_taken(m: &Message) -> Error {
    Error::Store(format!("message id {} is already stored", m.id))
}

#[async_trait]
impl MessageStore for DynamoStore {
    async fn commit_send(&self, commit: &SendCommit) -> Result<CommitOutcome> {
        let m = &commit.message;
        let mut writes = Writes::new(&self.table);
        writes.put(items::dedupe(m), Some(Condition::absent()))?;
        writes.put(
            items::customer(&commit.customer, commit.expected_version + 1)?,
            Some(Condition::version_is(commit.expected_version)),
        )?;
        self.message_writes(&mut writes, m)?;
        if let Some(timer) = &commit.timer {
            self.consume_timer(&mut writes, timer)?;
        }
        self.stats_writes(&mut writes, m, m.created_at.date_naive(), &commit.stats)?;
        match self.transact("commit_send", writes).await? {
            None => Ok(CommitOutcome::Committed),
            Some(Cancelled::Conditions(failed)) if failed.contains(&FIRST) => {
                Ok(CommitOutcome::Duplicate)
            }
            Some(Cancelled::Conditions(failed)) if failed.contains(&1) => {
                Ok(CommitOutcome::Conflict)
            }
            Some(Cancelled::Conflict) => Ok(CommitOutcome::Conflict),
            Some(_) => Err(id_taken(m)),
        }
    }

    async fn queue_message(&self, m: &Message, stats: &Counters) -> Result<CommitOutcome> {
        let mut writes = Writes::new(&self.table);
        writes.put(items::dedupe(m), Some(Condition::absent()))?;
        self.message_writes(&mut writes, m)?;
        self.stats_writes(&mut writes, m, m.created_at.date_naive(), stats)?;
        match self.transact("queue_message", writes).await? {
            None => Ok(CommitOutcome::Committed),
            Some(Cancelled::Conditions(failed)) if failed.contains(&FIRST) => {
                Ok(CommitOutcome::Duplicate)
            }
            Some(Cancelled::Conflict) => Err(Error::Conflict(format!(
                "message {} written concurrently",
                m.id
            ))),
            Some(_) => Err(id_taken(m)),
        }
    }

    /// Recording the same skip again (a re-run tick) changes nothing.
    async fn record_skip(
        &self,
        m: &Message,
        timer: Option<&Timer>,
        stats: &Counters,
    ) -> Result<()> {
        let mut writes = Writes::new(&self.table);
        writes.put(items::message_ref(m), Some(Condition::absent()))?;
        writes.put(items::message(m, self.shards)?, None)?;
        if let Some(timer) = timer {
            self.consume_timer(&mut writes, timer)?;
        }
        self.stats_writes(&mut writes, m, m.created_at.date_naive(), stats)?;
        match self.transact("record_skip", writes).await? {
            None => Ok(()),
            Some(Cancelled::Conditions(failed)) if failed.contains(&FIRST) => Ok(()),
            Some(_) => Err(Error::Conflict(format!(
                "skip of message {} written concurrently",
                m.id
            ))),
        }
    }

    /// Two reads: the lookup written with the `sent` result, then the message.
    async fn message_by_provider_id(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> Result<Option<Message>> {
        let Some(lookup) = self.get(&keys::provider_ref(provider, provider_id)).await? else {
            return Ok(None);
        };
        let target = items::target(&lookup)
            .ok_or_else(|| Error::store("provider id lookup item without target"))?;
        self.get(&target)
            .await?
            .map(|item| items::body(&item))
            .transpose()
    }

    async fn get_message(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<Message>> {
        let Some(lookup) = self.get(&keys::message_ref(tenant, id)).await? else {
            return Ok(None);
        };
        let target = items::target(&lookup)
            .ok_or_else(|| Error::store("message lookup item without target"))?;
        self.get(&target)
            .await?
            .map(|item| items::body(&item))
            .transpose()
    }

    /// Newest first (then by id, descending): the order of the sort keys.
    async fn customer_messages(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<Message>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut spec = QuerySpec::prefix(
            &keys::customer_partition(tenant, customer),
            keys::MESSAGE_PREFIX,
        );
        spec.forward = false;
        spec.page_size = i32::try_from(limit).ok();
        let mut found =
            paging::query(&self.client, &self.table, spec, |read| read.len() >= limit).await?;
        found.truncate(limit);
        found.iter().map(items::body).collect()
    }

    /// Queued messages due by `now`: the first `limit` of each outbox shard, merged in the
    /// SQLite order (next attempt, then creation).
    async fn sendable_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Message>> {
        self.index_due(keys::outbox_gsi2pk, now, limit, |m| {
            m.next_attempt_at.unwrap_or(m.created_at)
        })
        .await
    }

    /// Held messages whose lease ended by `now`, from the lease partitions of the index.
    /// (Messages claimed before leases existed are not in the index; see the README.)
    async fn expired_leases(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Message>> {
        self.index_due(keys::lease_gsi2pk, now, limit, |m| {
            m.lease_until.unwrap_or(m.updated_at)
        })
        .await
    }

    /// Sent messages from the receipt partitions of the index, by when they were sent.
    async fn unreceipted_messages(
        &self,
        sent_by: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Message>> {
        self.index_due(keys::receipt_gsi2pk, sent_by, limit, |m| {
            m.sent_at.unwrap_or(m.updated_at)
        })
        .await
    }

    /// Replaces the message only if it is still in state `from`; the new item enters or
    /// leaves the index partitions with its status. The key comes from the message (its
    /// creation time never changes), so no lookup is needed.
    async fn transition_message(&self, m: &Message, from: MessageState) -> Result<bool> {
        let item = items::message(m, self.shards)?;
        self.put(item, Some(Condition::message_in(from))).await
    }

    /// One request: the conditional claim, and the suppression check as a condition of the
    /// same transaction (a plain conditional put when the message ignores suppression).
    async fn claim_message(&self, claimed: &Message) -> Result<Claim> {
        let item = items::message(claimed, self.shards)?;
        let read = Condition::message_in(MessageState {
            status: MessageStatus::Queued,
            attempts: claimed.attempts.saturating_sub(1),
        });
        if claimed.ignores_suppression {
            let won = self.put(item, Some(read)).await?;
            return Ok(if won { Claim::Claimed } else { Claim::Lost });
        }
        let mut writes = Writes::new(&self.table);
        let message = writes.put(item, Some(read))?;
        let suppression = keys::suppression(&claimed.tenant, &claimed.phone);
        writes.check(&suppression, Condition::absent())?;
        match self.transact("claim_message", writes).await? {
            None => Ok(Claim::Claimed),
            Some(Cancelled::Conditions(failed)) if failed.contains(&message) => Ok(Claim::Lost),
            Some(Cancelled::Conditions(_)) => Ok(Claim::Suppressed),
            // Another transaction had the message (or the suppression entry) in hand: the
            // record is retried and finds out which way it went.
            Some(Cancelled::Conflict) => Err(Error::Conflict(format!(
                "message {} claimed concurrently",
                claimed.id
            ))),
            Some(Cancelled::Other(code)) => {
                Err(Error::Store(format!("dynamodb claim_message: {code}")))
            }
        }
    }

    /// One request: the message's new state and its stats. The stats item of a rule and day
    /// is in every result of that rule, so concurrent senders can cancel each other; a
    /// cancelled transaction wrote nothing, so it is simply tried again — the text is already
    /// sent and its result must not be lost.
    async fn finish_message(
        &self,
        m: &Message,
        from: MessageState,
        stats: &Counters,
    ) -> Result<bool> {
        for attempt in 0..FINISH_ATTEMPTS {
            let mut writes = Writes::new(&self.table);
            writes.put(
                items::message(m, self.shards)?,
                Some(Condition::message_in(from)),
            )?;
            if m.status == MessageStatus::Sent {
                if let Some(lookup) = items::provider_ref(m) {
                    writes.put(lookup, None)?;
                }
            }
            self.stats_writes(&mut writes, m, m.counted_on(), stats)?;
            match self.transact("finish_message", writes).await? {
                None => return Ok(true),
                Some(Cancelled::Conditions(_)) => return Ok(false),
                Some(Cancelled::Conflict) => {
                    // Spread the retries of senders that collided.
                    let jitter = u64::from(m.id.as_str().bytes().last().unwrap_or(0) % 16);
                    tokio::time::sleep(Duration::from_millis((10 << attempt) + jitter)).await;
                }
                Some(Cancelled::Other(code)) => {
                    return Err(Error::Store(format!("dynamodb finish_message: {code}")))
                }
            }
        }
        Err(Error::Conflict(format!(
            "result of message {} kept conflicting with other writers",
            m.id
        )))
    }
}

impl DynamoStore {
    /// The messages of one index partition kind (`partition(shard)`) whose sort key is due by
    /// `now`: the first `limit` of each shard, merged by `due` then creation.
    async fn index_due(
        &self,
        partition: fn(u8) -> String,
        now: DateTime<Utc>,
        limit: usize,
        due: fn(&Message) -> DateTime<Utc>,
    ) -> Result<Vec<Message>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut found_due: Vec<Message> = Vec::new();
        for shard in 0..self.shards {
            let spec = QuerySpec {
                index: Some(keys::GSI2),
                key_condition: "#pk = :pk AND #sk < :bound".into(),
                names: HashMap::from([
                    ("#pk".into(), keys::GSI2PK.into()),
                    ("#sk".into(), keys::GSI2SK.into()),
                ]),
                values: Item::from([
                    (":pk".into(), s(partition(shard))),
                    (":bound".into(), s(keys::outbox_due_bound(now))),
                ]),
                forward: true,
                page_size: i32::try_from(limit).ok(),
                projection: None,
            };
            let found =
                paging::query(&self.client, &self.table, spec, |read| read.len() >= limit).await?;
            for item in found.iter().take(limit) {
                found_due.push(items::body(item)?);
            }
        }
        found_due.sort_by_key(|m| (due(m).timestamp(), m.created_at.timestamp()));
        found_due.truncate(limit);
        Ok(found_due)
    }

    /// The message item and its lookup item; the lookup is conditional so one id is never
    /// stored twice (its failure is the "already recorded" signal of a skip).
    fn message_writes(&self, writes: &mut Writes, m: &Message) -> Result<()> {
        writes.put(items::message(m, self.shards)?, None)?;
        writes.put(items::message_ref(m), Some(Condition::absent()))?;
        Ok(())
    }

    /// The counters of `m`'s rule on `day`, in the spread item `m`'s id picks.
    fn stats_writes(
        &self,
        writes: &mut Writes,
        m: &Message,
        day: NaiveDate,
        stats: &Counters,
    ) -> Result<()> {
        let key = keys::stats(&m.tenant, day, m.rule.as_str(), m.id.as_str());
        writes.add_stats(&key, stats).map(|_| ())
    }
}
