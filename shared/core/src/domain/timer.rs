use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{CustomerId, Event, RuleId, TenantId};

/// A pending rule occurrence for a customer, due at a whole minute (UTC).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub tenant: TenantId,
    pub customer_id: CustomerId,
    pub rule: RuleId,
    pub occurrence: String,
    pub due: DateTime<Utc>,
    /// The triggering event, for event and count triggers (conditions and templates see it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Event>,
    /// How many times the policies deferred it.
    #[serde(default)]
    pub deferrals: u32,
}

impl Timer {
    /// Identity of the timer within a customer (rule + occurrence).
    pub fn key(&self) -> String {
        format!("{}#{}", self.rule, self.occurrence)
    }
}
