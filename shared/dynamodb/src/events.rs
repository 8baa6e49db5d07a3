//! The event log: an event is stored once by id, in one transaction with the customer's new
//! version and the timers it arms.
use async_trait::async_trait;

use super::errors::Cancelled;
use super::items::{self, Item};
use super::keys;
use super::paging::{self, QuerySpec};
use super::tx::{Condition, Writes};
use super::DynamoStore;
use nudge_core::domain::{CustomerId, Event, EventId, TenantId};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{EventCommit, EventLog, EventOutcome};

#[async_trait]
impl EventLog for DynamoStore {
    /// One transaction: the customer's event id (must be new; a ConditionCheck also refuses
    /// an id an earlier release recorded per tenant for this customer), the customer (at the
    /// expected version), the event, its timers and the counters it moves.
    async fn record_event(&self, commit: &EventCommit) -> Result<EventOutcome> {
        let event = &commit.event;
        let old = self.timer_targets(&commit.timers).await?;
        let mut writes = Writes::new(&self.table);
        let id_index = writes.put(items::event_id(event), Some(Condition::absent()))?;
        let customer_pk = keys::customer_partition(&event.tenant, &event.customer_id);
        let tenant_id_index = writes.check(
            &keys::tenant_event_id(&event.tenant, &event.event_id),
            Condition::absent_or_pointing_elsewhere(&customer_pk),
        )?;
        writes.put(
            items::customer(&commit.customer, commit.expected_version + 1)?,
            Some(Condition::version_is(commit.expected_version)),
        )?;
        writes.put(items::event(event)?, None)?;
        self.timer_writes(&mut writes, &commit.timers, &old)?;
        for row in &commit.stats {
            let key = keys::stats(&event.tenant, row.day, &row.rule, event.event_id.as_str());
            writes.add_stats(&key, &row.counters)?;
        }
        if writes.len() > super::tx::MAX_ITEMS {
            return Err(Error::Store(format!(
                "dynamodb record_event: {} writes exceed one transaction ({} timers)",
                writes.len(),
                commit.timers.len()
            )));
        }
        Ok(match self.transact("record_event", writes).await? {
            None => EventOutcome::Recorded,
            Some(Cancelled::Conditions(failed)) if failed.contains(&id_index) => {
                let recorded = self
                    .recorded_event_type(&event.tenant, &event.customer_id, &event.event_id)
                    .await?;
                match recorded {
                    Some(t) if t != event.event_type => EventOutcome::IdReused { event_type: t },
                    _ => EventOutcome::Duplicate,
                }
            }
            Some(Cancelled::Conditions(failed)) if failed.contains(&tenant_id_index) => {
                EventOutcome::Duplicate
            }
            // The customer's version or a timer moved meanwhile.
            Some(_) => EventOutcome::Conflict,
        })
    }

    async fn recorded_event_type(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        id: &EventId,
    ) -> Result<Option<String>> {
        let item = self.get(&keys::event_id(tenant, customer, id)).await?;
        Ok(item.and_then(|item| items::get_s(&item, keys::EVENT_TYPE).map(str::to_string)))
    }

    /// Most recent first; within one second by event id, like the SQLite store. Reads past
    /// `limit` only to complete the group of events sharing the boundary second.
    async fn customer_events(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<Event>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut spec = QuerySpec::prefix(
            &keys::customer_partition(tenant, customer),
            keys::EVENT_PREFIX,
        );
        spec.forward = false;
        spec.page_size = i32::try_from(limit.saturating_add(1)).ok();
        let second = |item: &Item| -> Option<String> {
            let sk = items::get_s(item, keys::SK)?;
            let rest = sk.strip_prefix(keys::EVENT_PREFIX)?;
            rest.split_once('#').map(|(ts, _)| ts.to_string())
        };
        let found = paging::query(&self.client, &self.table, spec, |read| {
            read.len() > limit && second(&read[limit - 1]) != read.last().and_then(second)
        })
        .await?;
        let mut events = found
            .iter()
            .map(|item| Ok((second(item), items::body::<Event>(item)?)))
            .collect::<Result<Vec<_>>>()?;
        events.sort_by(|(a_ts, a), (b_ts, b)| {
            b_ts.cmp(a_ts)
                .then_with(|| a.event_id.as_str().cmp(b.event_id.as_str()))
        });
        events.truncate(limit);
        Ok(events.into_iter().map(|(_, e)| e).collect())
    }
}
