//! The suppression list: one item per (tenant, number), kept when the customer is deleted.
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

use super::errors;
use super::items::{key_map, s, Item};
use super::keys::{self, kind};
use super::DynamoStore;
use nudge_core::domain::{PhoneNumber, TenantId};
use nudge_core::error::Result;
use nudge_core::ports::SuppressionList;

#[async_trait]
impl SuppressionList for DynamoStore {
    async fn is_suppressed(&self, tenant: &TenantId, phone: &PhoneNumber) -> Result<bool> {
        Ok(self.get(&keys::suppression(tenant, phone)).await?.is_some())
    }

    /// One conditional UpdateItem: creates the entry, or — for the same `reference` — finds
    /// it already made (keeping its first time and source).
    async fn suppress(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
        at: DateTime<Utc>,
        source: &str,
        reference: Option<&str>,
    ) -> Result<bool> {
        let mut names = HashMap::from([
            ("#pk".to_string(), keys::PK.to_string()),
            ("#k".into(), keys::KIND.into()),
            ("#at".into(), "at".into()),
            ("#src".into(), "source".into()),
        ]);
        let mut values = Item::from([
            (":k".to_string(), s(kind::SUPPRESSION)),
            (":at".into(), s(keys::ts(at))),
            (":src".into(), s(source)),
        ]);
        let mut set =
            "SET #k = :k, #at = if_not_exists(#at, :at), #src = if_not_exists(#src, :src)"
                .to_string();
        let mut condition = "attribute_not_exists(#pk)".to_string();
        if let Some(reference) = reference {
            names.insert("#ref".into(), keys::REFERENCE.into());
            values.insert(":ref".into(), s(reference));
            set.push_str(", #ref = :ref");
            condition.push_str(" OR #ref = :ref");
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(&keys::suppression(tenant, phone))))
            .update_expression(set)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        errors::written("update_item", result)
    }

    async fn unsuppress(&self, tenant: &TenantId, phone: &PhoneNumber) -> Result<bool> {
        self.delete(&keys::suppression(tenant, phone)).await
    }
}
