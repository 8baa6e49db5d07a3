//! The due index: one item per timer in its minute's shard partition, plus a per-customer
//! pointer that says where that item is, so moving or deleting a timer never needs a Scan;
//! and the scheduler's checkpoint (the last minute fully processed).
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::errors::{self, Cancelled};
use super::items::{self, key_map, n, s, Item};
use super::keys::{self, kind, Key};
use super::paging::{self, QuerySpec};
use super::tx::{Condition, Writes, MAX_ITEMS};
use super::DynamoStore;
use nudge_core::domain::{CustomerId, TenantId, Timer};
use nudge_core::error::{Error, Result};
use nudge_core::ports::DueIndex;

/// Keep one transaction well under DynamoDB's 4 MB request limit.
const MAX_TRANSACTION_BYTES: usize = 3 * 1024 * 1024;

/// The last of several timers with the same identity wins (one write per item and request).
fn unique(timers: &[Timer]) -> Vec<&Timer> {
    let mut by_identity: HashMap<Key, usize> = HashMap::new();
    let mut out: Vec<&Timer> = Vec::new();
    for t in timers {
        match by_identity.get(&keys::timer_ref_of(t)) {
            Some(&i) => out[i] = t,
            None => {
                by_identity.insert(keys::timer_ref_of(t), out.len());
                out.push(t);
            }
        }
    }
    out
}

#[async_trait]
impl DueIndex for DynamoStore {
    async fn customer_timers(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> Result<Vec<Timer>> {
        let spec = QuerySpec::prefix(
            &keys::customer_partition(tenant, customer),
            keys::TIMER_PREFIX,
        );
        let found = paging::query(&self.client, &self.table, spec, |_| false).await?;
        let mut timers = found
            .iter()
            .map(items::body::<Timer>)
            .collect::<Result<Vec<_>>>()?;
        timers.sort_by(|a, b| {
            (a.due, a.rule.as_str(), &a.occurrence).cmp(&(b.due, b.rule.as_str(), &b.occurrence))
        });
        Ok(timers)
    }

    /// Inserts or moves timers, in transactions of whole timers (≤ 100 items, ≤ 3 MB).
    async fn put_timers(&self, timers: &[Timer]) -> Result<()> {
        let old = self.timer_targets(timers).await?;
        let mut writes = Writes::new(&self.table);
        let mut bytes = 0;
        for t in unique(timers) {
            // A timer is 2 or 3 writes: due item, pointer (about the same size), old due item.
            let size = 2 * items::size(&items::due_timer(t, self.shards)?);
            if writes.len() + 3 > MAX_ITEMS || bytes + size > MAX_TRANSACTION_BYTES {
                self.commit_timers(std::mem::replace(&mut writes, Writes::new(&self.table)))
                    .await?;
                bytes = 0;
            }
            self.one_timer_writes(&mut writes, t, &old)?;
            bytes += size;
        }
        self.commit_timers(writes).await
    }

    /// Deletes the pointers and the due items they point to (or, without a pointer, the due
    /// item the timer itself names).
    async fn delete_timers(&self, timers: &[Timer]) -> Result<()> {
        if timers.is_empty() {
            return Ok(());
        }
        let old = self.timer_targets(timers).await?;
        let mut doomed = Vec::new();
        for t in timers {
            let pointer = keys::timer_ref_of(t);
            doomed.push(
                old.get(&pointer)
                    .cloned()
                    .unwrap_or_else(|| keys::due(t, self.shards)),
            );
            doomed.push(pointer);
        }
        paging::batch_delete(&self.client, &self.table, &doomed).await
    }

    async fn reschedule_timer(&self, timer: &Timer, due: DateTime<Utc>) -> Result<()> {
        let mut moved = timer.clone();
        moved.due = due;
        self.put_timers(std::slice::from_ref(&moved)).await
    }

    /// Every shard partition of the minute, each read to its last page.
    async fn due_timers(&self, minute: DateTime<Utc>) -> Result<Vec<Timer>> {
        let mut timers = Vec::new();
        for shard in 0..self.shards {
            let spec = QuerySpec::partition(&keys::due_pk(minute, shard));
            for item in paging::query(&self.client, &self.table, spec, |_| false).await? {
                timers.push(items::body::<Timer>(&item)?);
            }
        }
        timers.sort_by(|a, b| {
            (a.due, &a.tenant, &a.customer_id, &a.rule, &a.occurrence).cmp(&(
                b.due,
                &b.tenant,
                &b.customer_id,
                &b.rule,
                &b.occurrence,
            ))
        });
        Ok(timers)
    }

    async fn checkpoint(&self) -> Result<Option<DateTime<Utc>>> {
        self.get(&keys::checkpoint())
            .await?
            .map(|item| items::checkpoint_minute(&item))
            .transpose()
    }

    /// Forward only: the condition rejects an older or equal minute, which is not an error.
    async fn set_checkpoint(&self, minute: DateTime<Utc>) -> Result<()> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::checkpoint())))
            .update_expression("SET #m = :m, #k = :k")
            .condition_expression("attribute_not_exists(#pk) OR #m < :m")
            .set_expression_attribute_names(Some(HashMap::from([
                ("#m".into(), keys::MINUTE.into()),
                ("#k".into(), keys::KIND.into()),
                ("#pk".into(), keys::PK.into()),
            ])))
            .set_expression_attribute_values(Some(Item::from([
                (":m".into(), n(minute.timestamp())),
                (":k".into(), s(kind::CHECKPOINT)),
            ])))
            .send()
            .await;
        errors::written("update_item", result).map(|_| ())
    }
}

impl DynamoStore {
    /// Where the stored pointers of `timers` point (pointer key → due-index key).
    pub(super) async fn timer_targets(&self, timers: &[Timer]) -> Result<HashMap<Key, Key>> {
        if timers.is_empty() {
            return Ok(HashMap::new());
        }
        let refs: Vec<Key> = timers.iter().map(keys::timer_ref_of).collect();
        let found = paging::batch_get(
            &self.client,
            &self.table,
            &refs,
            &[keys::PK, keys::SK, keys::TARGET_PK, keys::TARGET_SK],
        )
        .await?;
        found
            .iter()
            .filter_map(|item| Some((items::key_of(item), items::target(item)?)))
            .map(|(key, target)| Ok((key?, target)))
            .collect()
    }

    /// Adds the writes that put `timers` in the index: the due item, the pointer (only if
    /// nobody moved it since `old` was read) and the removal of the previous due item.
    pub(super) fn timer_writes(
        &self,
        writes: &mut Writes,
        timers: &[Timer],
        old: &HashMap<Key, Key>,
    ) -> Result<()> {
        for t in unique(timers) {
            self.one_timer_writes(writes, t, old)?;
        }
        Ok(())
    }

    fn one_timer_writes(
        &self,
        writes: &mut Writes,
        t: &Timer,
        old: &HashMap<Key, Key>,
    ) -> Result<()> {
        let due = keys::due(t, self.shards);
        let previous = old.get(&keys::timer_ref_of(t));
        writes.put(items::due_timer(t, self.shards)?, None)?;
        let condition = match previous {
            Some(target) => Condition::absent_or_pointing_at(target),
            None => Condition::absent(),
        };
        writes.put(items::timer_ref(t, self.shards)?, Some(condition))?;
        if let Some(target) = previous.filter(|target| **target != due) {
            writes.delete(target)?;
        }
        Ok(())
    }

    async fn commit_timers(&self, writes: Writes) -> Result<()> {
        match self.transact("put_timers", writes).await? {
            None => Ok(()),
            Some(Cancelled::Conditions(_) | Cancelled::Conflict) => {
                Err(Error::Conflict("a timer was moved concurrently".into()))
            }
            Some(Cancelled::Other(code)) => {
                Err(Error::Store(format!("dynamodb put_timers: {code}")))
            }
        }
    }

    /// The writes that consume a decided timer: its due item and its pointer.
    pub(super) fn consume_timer(&self, writes: &mut Writes, t: &Timer) -> Result<()> {
        writes.delete(&keys::due(t, self.shards))?;
        writes.delete(&keys::timer_ref_of(t))?;
        Ok(())
    }
}
