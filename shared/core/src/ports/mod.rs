//! The traits the services are generic over: the store (one trait per role, in [`store`]),
//! the SMS sender, the event publisher and the clock. Their implementations are the adapter
//! crates (`nudge-sqlite`, `nudge-dynamodb`, `nudge-sns`, `nudge-eventbridge`, `nudge-local`)
//! and [`crate::clock`].
mod store;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Category, PhoneNumber, TenantId};
use crate::error::Result;

pub use store::*;

/// The source of "now". Production reads the system clock; simulations and tests drive it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// What a sender returns for an accepted text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub provider_id: String,
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends one text. Errors are `Error::Provider { retryable, .. }`.
    async fn send(&self, to: &PhoneNumber, text: &str, category: Category) -> Result<Sent>;
}

/// A business event for other systems (`message.sent`, `customer.opted_out`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboundEvent {
    pub detail_type: String,
    pub tenant: TenantId,
    pub time: DateTime<Utc>,
    pub detail: serde_json::Value,
}

#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<()>;
}
