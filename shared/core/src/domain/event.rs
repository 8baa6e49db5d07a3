use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{CustomerId, EventId, TenantId};

/// How long events are kept (the production store expires them after this), and so how far
/// in the past an event may have occurred: an older one would be gone as soon as stored.
pub const EVENT_RETENTION_DAYS: i64 = 400;

/// Something a customer did or that happened to them, reported by the tenant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub tenant: TenantId,
    pub event_id: EventId,
    pub customer_id: CustomerId,
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

impl Event {
    /// The view CEL conditions and templates see as `event`.
    pub fn to_context(&self) -> Value {
        serde_json::json!({
            "id": self.event_id.as_str(),
            "type": self.event_type,
            "occurred_at": self.occurred_at.to_rfc3339(),
            "properties": self.properties,
        })
    }
}
