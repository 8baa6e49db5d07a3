//! Messages: the send transaction (dedupe + customer ledger + message + timer + stats), the
//! outbox (sparse GSI2) and conditional status transitions.
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::errors::Cancelled;
use super::items::{self, s, Item};
use super::keys;
use super::paging::{self, QuerySpec};
use super::tx::{Condition, Writes};
use super::DynamoStore;
use crate::domain::{CustomerId, Message, MessageId, MessageStatus, TenantId, Timer};
use crate::error::{Error, Result};
use crate::ports::{CommitOutcome, Counters, SendCommit};

/// The first write of every message transaction: the dedupe key (send, queue) or the
/// message's lookup item (skip). Its failed condition means "already done".
const FIRST: usize = 0;

impl DynamoStore {
    /// The message item and its lookup item; the lookup is conditional so one id is never
    /// stored twice (its failure is the "already recorded" signal of a skip).
    fn message_writes(&self, writes: &mut Writes, m: &Message) -> Result<()> {
        writes.put(items::message(m, self.shards)?, None)?;
        writes.put(items::message_ref(m), Some(Condition::absent()))?;
        Ok(())
    }

    fn stats_writes(&self, writes: &mut Writes, m: &Message, stats: &Counters) -> Result<()> {
        let key = keys::stats(&m.tenant, m.created_at.date_naive(), m.rule.as_str());
        writes.add_stats(&key, stats).map(|_| ())
    }

    pub(super) async fn commit_message(&self, commit: &SendCommit) -> Result<CommitOutcome> {
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
        self.stats_writes(&mut writes, m, &commit.stats)?;
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

    pub(super) async fn queue(&self, m: &Message, stats: &Counters) -> Result<CommitOutcome> {
        let mut writes = Writes::new(&self.table);
        writes.put(items::dedupe(m), Some(Condition::absent()))?;
        self.message_writes(&mut writes, m)?;
        self.stats_writes(&mut writes, m, stats)?;
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
    pub(super) async fn skip(
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
        self.stats_writes(&mut writes, m, stats)?;
        match self.transact("record_skip", writes).await? {
            None => Ok(()),
            Some(Cancelled::Conditions(failed)) if failed.contains(&FIRST) => Ok(()),
            Some(_) => Err(Error::Conflict(format!(
                "skip of message {} written concurrently",
                m.id
            ))),
        }
    }

    pub(super) async fn message(
        &self,
        tenant: &TenantId,
        id: &MessageId,
    ) -> Result<Option<Message>> {
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
    pub(super) async fn messages_of(
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
    pub(super) async fn outbox(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Message>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut due: Vec<Message> = Vec::new();
        for shard in 0..self.shards {
            let spec = QuerySpec {
                index: Some(keys::GSI2),
                key_condition: "#pk = :pk AND #sk < :bound".into(),
                names: HashMap::from([
                    ("#pk".into(), keys::GSI2PK.into()),
                    ("#sk".into(), keys::GSI2SK.into()),
                ]),
                values: Item::from([
                    (":pk".into(), s(keys::outbox_gsi2pk(shard))),
                    (":bound".into(), s(keys::outbox_due_bound(now))),
                ]),
                forward: true,
                page_size: i32::try_from(limit).ok(),
                projection: None,
            };
            let found =
                paging::query(&self.client, &self.table, spec, |read| read.len() >= limit).await?;
            for item in found.iter().take(limit) {
                due.push(items::body(item)?);
            }
        }
        let order = |m: &Message| {
            let next = m.next_attempt_at.unwrap_or(m.created_at).timestamp();
            (next, m.created_at.timestamp())
        };
        due.sort_by_key(order);
        due.truncate(limit);
        Ok(due)
    }

    /// Replaces the message only if it is still in `from`; the new item enters or leaves the
    /// outbox index with its status. The key comes from the message (its creation time never
    /// changes), so no lookup is needed.
    pub(super) async fn transition(&self, m: &Message, from: MessageStatus) -> Result<bool> {
        let item = items::message(m, self.shards)?;
        self.put(item, Some(Condition::status_is(from.as_str())))
            .await
    }
}

fn id_taken(m: &Message) -> Error {
    Error::Store(format!("message id {} is already stored", m.id))
}
