//! The signature log: one item per accepted request signature, written only if absent or
//! past its end, expiring (TTL) when it could not be accepted anyway.
use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::items;
use super::keys;
use super::tx::Condition;
use super::DynamoStore;
use nudge_core::domain::TenantId;
use nudge_core::error::Result;
use nudge_core::ports::SignatureLog;

#[async_trait]
impl SignatureLog for DynamoStore {
    async fn record_signature(
        &self,
        tenant: &TenantId,
        signature: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool> {
        let item = items::signature(&keys::signature(tenant, signature), until);
        self.put(item, Some(Condition::absent_or_expired(now)))
            .await
    }
}
