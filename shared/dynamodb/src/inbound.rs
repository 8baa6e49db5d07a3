//! The inbound log: one item per provider message id (expiring), written only if absent.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::items;
use super::keys;
use super::tx::Condition;
use super::DynamoStore;
use nudge_core::domain::TenantId;
use nudge_core::error::Result;
use nudge_core::ports::InboundLog;

#[async_trait]
impl InboundLog for DynamoStore {
    async fn record_inbound(
        &self,
        tenant: &TenantId,
        provider_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool> {
        let item = items::inbound(&keys::inbound(tenant, provider_id), at);
        self.put(item, Some(Condition::absent())).await
    }

    async fn forget_inbound(&self, tenant: &TenantId, provider_id: &str) -> Result<()> {
        self.delete(&keys::inbound(tenant, provider_id))
            .await
            .map(|_| ())
    }
}
