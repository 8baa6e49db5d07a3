//! Customer profiles: one item per customer (versioned, conditional writes), found by phone
//! through GSI1.
use async_trait::async_trait;
use std::collections::HashMap;

use super::items::{self, s, Item};
use super::keys::{self, Key};
use super::paging::{self, QuerySpec};
use super::tx::Condition;
use super::DynamoStore;
use nudge_core::domain::{Customer, CustomerId, EventId, Message, PhoneNumber, TenantId};
use nudge_core::error::{Error, Result};
use nudge_core::ports::CustomerStore;

#[async_trait]
impl CustomerStore for DynamoStore {
    async fn get_customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<Option<Customer>> {
        self.get(&keys::customer(tenant, id))
            .await?
            .map(|item| items::body(&item))
            .transpose()
    }

    /// BatchGetItem, 100 keys a request.
    async fn get_customers(&self, ids: &[(TenantId, CustomerId)]) -> Result<Vec<Customer>> {
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

    async fn put_customer(&self, c: &Customer, expected: Option<u64>) -> Result<u64> {
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
    /// The profile goes first, so a decision or event racing the delete fails on its
    /// version condition; then everything else of the customer's partition, read strongly
    /// consistently after that, goes with its lookup items: events and their id items,
    /// timers and their due-index items, messages (queued ones are never sent: a sender's
    /// claim is conditional on the item) with their id lookups and dedupe keys. Leftovers of
    /// an earlier delete that failed half-way are cleaned up by a repeated delete.
    async fn delete_customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<bool> {
        let existed = self.delete(&keys::customer(tenant, id)).await?;
        let pk = keys::customer_partition(tenant, id);
        let mut doomed: Vec<Key> = Vec::new();
        for item in self.query_keys(&pk, keys::EVENT_PREFIX).await? {
            let key = items::key_of(&item)?;
            if let Some(event_id) = keys::event_id_of_sk(&key.sk) {
                doomed.push(keys::tenant_event_id(tenant, &EventId::parse(event_id)?));
            }
            doomed.push(key);
        }
        for item in self.query_keys(&pk, keys::EVENT_ID_PREFIX).await? {
            doomed.push(items::key_of(&item)?);
        }
        for item in self.query_keys(&pk, keys::TIMER_PREFIX).await? {
            if let Some(target) = items::target(&item) {
                doomed.push(target);
            }
            doomed.push(items::key_of(&item)?);
        }
        let messages = QuerySpec::prefix(&pk, keys::MESSAGE_PREFIX);
        for item in paging::query(&self.client, &self.table, messages, |_| false).await? {
            let message: Message = items::body(&item)?;
            doomed.push(keys::message_ref(tenant, &message.id));
            doomed.push(keys::dedupe(tenant, &message.own_dedupe_key()));
            doomed.push(items::key_of(&item)?);
        }
        paging::batch_delete(&self.client, &self.table, &doomed).await?;
        Ok(existed)
    }

    /// The customer with the smallest id among those with this phone (GSI1, then a consistent
    /// re-read so the version is current).
    async fn find_customer_by_phone(
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
}

impl DynamoStore {
    /// Keys (and pointer targets) of a partition's items with an SK prefix.
    async fn query_keys(&self, pk: &str, prefix: &str) -> Result<Vec<Item>> {
        let mut spec = QuerySpec::prefix(pk, prefix);
        spec.projection = Some(vec![keys::PK, keys::SK, keys::TARGET_PK, keys::TARGET_SK]);
        paging::query(&self.client, &self.table, spec, |_| false).await
    }
}
