//! API keys: one item per key id.
use async_trait::async_trait;

use super::items;
use super::keys;
use super::DynamoStore;
use nudge_core::domain::ApiKey;
use nudge_core::error::Result;
use nudge_core::ports::ApiKeyStore;

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn put_api_key(&self, key: &ApiKey) -> Result<()> {
        self.put(items::api_key(key)?, None).await.map(|_| ())
    }

    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>> {
        self.get(&keys::api_key(id))
            .await?
            .map(|item| items::body(&item))
            .transpose()
    }
}
