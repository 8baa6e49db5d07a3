//! Customers and their events.
use std::collections::HashMap;

use super::errors::Cancelled;
use super::items::{self, s, Item};
use super::keys::{self, Key};
use super::paging::{self, QuerySpec};
use super::tx::{Condition, Writes};
use super::DynamoStore;
use nudge_core::domain::{Customer, CustomerId, Event, EventId, PhoneNumber, TenantId};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{EventCommit, EventOutcome};

/// Request indexes of the event transaction, for the cancellation reasons.
const EVID_INDEX: usize = 0;

impl DynamoStore {
    pub(super) async fn customer(
        &self,
        tenant: &TenantId,
        id: &CustomerId,
    ) -> Result<Option<Customer>> {
        self.get(&keys::customer(tenant, id))
            .await?
            .map(|item| items::body(&item))
            .transpose()
    }

    /// BatchGetItem, 100 keys a request.
    pub(super) async fn customers(&self, ids: &[(TenantId, CustomerId)]) -> Result<Vec<Customer>> {
        let keys: Vec<Key> = ids
            .iter()
            .map(|(tenant, id)| keys::customer(tenant, id))
            .collect();
        paging::batch_get(&self.client, &self.table, &keys, &[])
            .await?
            .iter()
            .map(items::body)
            .collect()
    }

    pub(super) async fn write_customer(&self, c: &Customer, expected: Option<u64>) -> Result<u64> {
        let version = expected.map_or(1, |v| v + 1);
        let condition = match expected {
            None => Condition::absent(),
            Some(v) => Condition::version_is(v),
        };
        if self
            .put(items::customer(c, version)?, Some(condition))
            .await?
        {
            Ok(version)
        } else {
            Err(Error::Conflict(format!(
                "customer {} changed concurrently",
                c.id
            )))
        }
    }

    /// Deletes events (and their ids) and timers first and the profile last, so a delete cut
    /// short can simply be repeated. Messages stay, as in the SQLite store.
    pub(super) async fn remove_customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<bool> {
        let pk = keys::customer_partition(tenant, id);
        let mut doomed: Vec<Key> = Vec::new();
        for item in self.query_keys(&pk, keys::EVENT_PREFIX).await? {
            let key = items::key_of(&item)?;
            if let Some(event_id) = keys::event_id_of_sk(&key.sk) {
                doomed.push(keys::event_id(tenant, &EventId::parse(event_id)?));
            }
            doomed.push(key);
        }
        for item in self.query_keys(&pk, keys::TIMER_PREFIX).await? {
            if let Some(target) = items::target(&item) {
                doomed.push(target);
            }
            doomed.push(items::key_of(&item)?);
        }
        paging::batch_delete(&self.client, &self.table, &doomed).await?;
        self.delete(&keys::customer(tenant, id)).await
    }

    /// Keys (and pointer targets) of a partition's items with an SK prefix.
    async fn query_keys(&self, pk: &str, prefix: &str) -> Result<Vec<Item>> {
        let mut spec = QuerySpec::prefix(pk, prefix);
        spec.projection = Some(vec![keys::PK, keys::SK, keys::TARGET_PK, keys::TARGET_SK]);
        paging::query(&self.client, &self.table, spec, |_| false).await
    }

    /// The customer with the smallest id among those with this phone (GSI1, then a consistent
    /// re-read so the version is current).
    pub(super) async fn customer_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<Customer>> {
        let spec = QuerySpec {
            index: Some(keys::GSI1),
            key_condition: "#pk = :pk".into(),
            names: HashMap::from([("#pk".into(), keys::GSI1PK.into())]),
            values: Item::from([(":pk".into(), s(keys::phone_gsi1pk(tenant, phone)))]),
            forward: true,
            page_size: None,
            projection: Some(vec![keys::PK, keys::SK, keys::GSI1SK]),
        };
        let found = paging::query(&self.client, &self.table, spec, |_| false).await?;
        for item in found {
            let Some(item) = self.get(&items::key_of(&item)?).await? else {
                continue;
            };
            let customer: Customer = items::body(&item)?;
            // The index lags writes: skip a customer whose phone has just changed.
            if customer.phone == *phone {
                return Ok(Some(customer));
            }
        }
        Ok(None)
    }

    /// One transaction: the event id (must be new), the customer (at the expected version),
    /// the event and its timers.
    pub(super) async fn commit_event(&self, commit: &EventCommit) -> Result<EventOutcome> {
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
    pub(super) async fn events_of(
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
