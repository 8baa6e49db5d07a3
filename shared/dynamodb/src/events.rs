//! The event log: an event is stored once by id, in one transaction with the customer's new
//! version and the timers it arms.
use async_trait::async_trait;

use super::errors::Cancelled;
use super::items::{self, Item};
use super::keys;
use super::paging::{self, QuerySpec};
use super::tx::{Condition, Writes};
use super::DynamoStore;
use nudge_core::domain::{CustomerId, Event, TenantId};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{EventCommit, EventLog, EventOutcome};

/// Request indexes of the event transaction, for the cancellation reasons.
const EVID_INDEX: usize = 0;

#[async_trait]
impl EventLog for DynamoStore {
    /// One transaction: the event id (must be new), the customer (at the expected version),
    /// the event and its timers.
    async fn record_event(&self, commit: &EventCommit) -> Result<EventOutcome> {
        let event = &commit.event;
        let old = self.timer_targets(&commit.timers).await?;
        let mut writes = Writes::new(&self.table);
        writes.put(items::event_id(event), Some(Condition::absent()))?;
        writes.put(
            items::customer(&commit.customer, commit.expected_version + 1)?,
            Some(Condition::version_is(commit.expected_version)),
        )?;
        writes.put(items::event(event)?, None)?;
        self.timer_writes(&mut writes, &commit.timers, &old)?;
        if writes.len() > super::tx::MAX_ITEMS {
            return Err(Error::Store(format!(
                "dynamodb record_event: {} writes exceed one transaction ({} timers)",
                writes.len(),
                commit.timers.len()
            )));
        }
        Ok(match self.transact("record_event", writes).await? {
            None => EventOutcome::Recorded,
            Some(Cancelled::Conditions(failed)) if failed.contains(&EVID_INDEX) => {
                EventOutcome::Duplicate
            }
            // The customer's version or a timer moved meanwhile.
            Some(_) => EventOutcome::Conflict,
        })
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
