use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::{CustomerId, DeliveryReport, MessageId, PhoneNumber, RuleId, TemplateRef, TenantId};

/// Why a text is sent; decides windows, caps, footer and the SMS type at the provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Transactional,
    Care,
    Marketing,
}

impl Category {
    pub const ALL: [Category; 3] = [Category::Transactional, Category::Care, Category::Marketing];

    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Transactional => "transactional",
            Category::Care => "care",
            Category::Marketing => "marketing",
        }
    }

    /// What to do with a text whose sender stopped (crashed, timed out) after handing it to
    /// the provider, so that nobody knows whether it went out: transactional texts (codes,
    /// delivery notices) are worth a possible duplicate and are sent again; care and
    /// marketing texts are not, and are recorded as `unknown` instead.
    pub(crate) fn resends_unknown_outcome(&self) -> bool {
        matches!(self, Category::Transactional)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Decided and waiting for the sender.
    Queued,
    /// Claimed by a sender, which holds it until `lease_until`; the provider has not been
    /// called yet.
    Sending,
    /// Handed to the provider by a sender holding it until `lease_until`; the answer has not
    /// been recorded yet.
    Dispatched,
    /// Accepted by the provider.
    Sent,
    /// The provider reported it delivered to the phone.
    Delivered,
    /// The provider reported it not delivered; `reason` is an [`super::UndeliveredReason`]
    /// code.
    Undelivered,
    /// Gave up: permanent provider error or retries exhausted.
    Failed,
    /// Not sent because a policy said so; `reason` says which.
    Skipped,
    /// Its sender stopped after handing it to the provider and before recording the answer:
    /// it may or may not have gone out. Only for categories that are not resent then.
    Unknown,
}

impl MessageStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Undelivered => "undelivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Skipped => "skipped",
            MessageStatus::Dispatched => "dispatched",
            MessageStatus::Unknown => "unknown",
        }
    }

    pub const ALL: [MessageStatus; 9] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Dispatched,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Undelivered,
        MessageStatus::Failed,
        MessageStatus::Skipped,
        MessageStatus::Unknown,
    ];

    pub fn parse(text: &str) -> Option<Self> {
        MessageStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether a delivery receipt may still change it: a text the provider accepted (or may
    /// have: `unknown`) and that no receipt settled yet. Receipts move messages forward only,
    /// so a late or repeated one changes nothing.
    pub fn awaits_receipt(&self) -> bool {
        matches!(self, MessageStatus::Sent | MessageStatus::Unknown)
    }

    /// Held by a sender until the message's `lease_until`.
    pub fn is_leased(&self) -> bool {
        matches!(self, MessageStatus::Sending | MessageStatus::Dispatched)
    }
}

/// One SMS to one customer for one rule occurrence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub tenant: TenantId,
    pub id: MessageId,
    pub customer_id: CustomerId,
    pub rule: RuleId,
    pub category: Category,
    /// Identifies the rule instance: the event id, or the due date for date triggers.
    pub occurrence: String,
    pub phone: PhoneNumber,
    pub text: String,
    /// For template gateways: the approved template and its parameters for this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
    pub segments: u32,
    pub status: MessageStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The provider that accepted the text (`sns`, `eum`, `console`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<String>,
    /// When the provider accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    /// The provider's delivery receipt, once one arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryReport>,
    #[serde(default)]
    pub attempts: u32,
    /// When a queued message may next be tried (after a retryable failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Until when the sender that claimed the message holds it (`sending`, `dispatched`);
    /// after that the sweep settles it. Absent on messages claimed before leases existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    /// Sent even to a suppressed number: only the opt-out confirmation and help answers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignores_suppression: bool,
}

impl Message {
    /// The key that makes a rule occurrence for a customer be sent at most once, ever.
    pub fn dedupe_key(rule: &RuleId, customer: &CustomerId, occurrence: &str) -> String {
        format!("{rule}:{customer}:{occurrence}")
    }

    pub fn own_dedupe_key(&self) -> String {
        Message::dedupe_key(&self.rule, &self.customer_id, &self.occurrence)
    }

    /// The day (UTC) a result of this message is counted on: the day it was sent for what
    /// happens after (a receipt two days later still counts with its text, so a day's
    /// delivery rate compares like with like), else the day of the result.
    pub fn counted_on(&self) -> chrono::NaiveDate {
        self.sent_at.unwrap_or(self.updated_at).date_naive()
    }
}
