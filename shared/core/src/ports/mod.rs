//! The traits the services are generic over: the store (one trait per role, in [`store`]),
//! the SMS sender, the provider's opt-out list, the event publisher and the clock. Their implementations are the adapter
//! crates (`nudge-sqlite`, `nudge-dynamodb`, `nudge-sns`, `nudge-eventbridge`, `nudge-local`)
//! and [`crate::clock`].
mod opt_outs;
mod sender;
mod store;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::TenantId;
use crate::error::Result;

pub use opt_outs::{ProviderOptIn, ProviderOptOuts};
pub use sender::{OutgoingText, SendError, Sent, SmsSender};
pub use store::*;

/// The source of "now". Production reads the system clock; simulations and tests drive it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
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
