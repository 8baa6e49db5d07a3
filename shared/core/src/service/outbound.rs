//! The business events nudge publishes for other systems, by kind.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use serde_json::{json, Value};

use crate::domain::{Message, TenantId};
use crate::ports::{EventPublisher, OutboundEvent};

/// What an [`OutboundEvent`] announces: its `detail_type` (EventBridge's `detail-type`).
/// Named so as not to be confused with the type of a customer's event (`order.paid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DetailType {
    /// A text the provider accepted.
    #[serde(rename = "message.sent")]
    MessageSent,
    /// A sent text the provider reported delivered to the phone.
    #[serde(rename = "message.delivered")]
    MessageDelivered,
    /// A sent text the provider reported not delivered (`reason`: why).
    #[serde(rename = "message.undelivered")]
    MessageUndelivered,
    /// A text that could not be sent, for good (or a queued message that cannot be read).
    #[serde(rename = "message.failed")]
    MessageFailed,
    /// A text whose sender stopped after handing it to the provider: it may or may not have
    /// gone out (`resolution`: `recorded` as unknown, or `resent` for transactional texts).
    #[serde(rename = "message.unknown")]
    MessageUnknown,
    /// A queued text not sent because its number opted out.
    #[serde(rename = "message.skipped")]
    MessageSkipped,
    /// A customer (or number) opted out by reply.
    #[serde(rename = "customer.opted_out")]
    CustomerOptedOut,
    /// A customer (or number) opted back in by reply.
    #[serde(rename = "customer.opted_in")]
    CustomerOptedIn,
    /// A customer asked to opt back in and the provider would not take the number off its
    /// opt-out list yet: it stays suppressed and no text can tell the customer so.
    #[serde(rename = "customer.opt_in_refused")]
    CustomerOptInRefused,
    /// nudge gave up on a customer's number after undelivered outcomes in a row
    /// (`reason`, `outcomes`): it is suppressed and the customer's texts are skipped.
    #[serde(rename = "customer.number_invalid")]
    CustomerNumberInvalid,
    /// A reply matched a menu keyword of the text it answers.
    #[serde(rename = "keyword.matched")]
    KeywordMatched,
    /// A free-text reply, for a human to read.
    #[serde(rename = "reply.received")]
    ReplyReceived,
}

impl DetailType {
    /// The name on the wire (`message.sent`, …); the same as its serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::MessageSent => "message.sent",
            DetailType::MessageDelivered => "message.delivered",
            DetailType::MessageUndelivered => "message.undelivered",
            DetailType::MessageFailed => "message.failed",
            DetailType::MessageSkipped => "message.skipped",
            DetailType::MessageUnknown => "message.unknown",
            DetailType::CustomerOptedOut => "customer.opted_out",
            DetailType::CustomerOptedIn => "customer.opted_in",
            DetailType::CustomerOptInRefused => "customer.opt_in_refused",
            DetailType::CustomerNumberInvalid => "customer.number_invalid",
            DetailType::KeywordMatched => "keyword.matched",
            DetailType::ReplyReceived => "reply.received",
        }
    }
}

impl fmt::Display for DetailType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl OutboundEvent {
    /// The event announcing `detail_type` for `tenant` at `time`. Every publisher call site
    /// builds its event here, so the kind is always one of [`DetailType`].
    pub fn new(
        detail_type: DetailType,
        tenant: TenantId,
        time: DateTime<Utc>,
        detail: serde_json::Value,
    ) -> Self {
        OutboundEvent {
            detail_type: detail_type.to_string(),
            tenant,
            time,
            detail,
        }
    }
}

/// Tells other systems what became of a message (`resolution`: how an unknown outcome was
/// settled). The result is already recorded, so a lost notification is logged and must not
/// resend the text or undo the result.
/// Publishes one business event; a failure is logged, never the caller's failure (what the
/// event reports has happened already).
pub(crate) async fn publish(
    publisher: &dyn EventPublisher,
    tenant: &TenantId,
    detail_type: DetailType,
    detail: Value,
    time: DateTime<Utc>,
) {
    let event = OutboundEvent::new(detail_type, tenant.clone(), time, detail);
    if let Err(err) = publisher.publish(std::slice::from_ref(&event)).await {
        tracing::error!(error = %err, detail_type = detail_type.as_str(), "publishing an event failed");
    }
}

pub(crate) async fn announce_message(
    publisher: &dyn EventPublisher,
    message: &Message,
    detail_type: DetailType,
    resolution: Option<&str>,
    now: DateTime<Utc>,
) {
    let mut detail = json!({
        "message_id": message.id.as_str(),
        "customer_id": message.customer_id.as_str(),
        "rule": message.rule.as_str(),
        "category": message.category,
        "status": message.status.as_str(),
        "reason": message.reason,
        "provider": message.provider,
        "provider_id": message.provider_id,
        "segments": message.segments,
    });
    if let Some(delivery) = &message.delivery {
        detail["delivery"] = json!(delivery);
    }
    if let Some(resolution) = resolution {
        detail["resolution"] = json!(resolution);
    }
    publish(publisher, &message.tenant, detail_type, detail, now).await;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ALL: [DetailType; 10] = [
        DetailType::MessageSent,
        DetailType::MessageDelivered,
        DetailType::MessageUndelivered,
        DetailType::MessageUnknown,
        DetailType::MessageFailed,
        DetailType::MessageSkipped,
        DetailType::CustomerOptedOut,
        DetailType::CustomerOptedIn,
        DetailType::KeywordMatched,
        DetailType::ReplyReceived,
    ];

    #[test]
    fn wire_names_are_the_serde_form() {
        for kind in ALL {
            let json = serde_json::to_value(kind).unwrap();
            assert_eq!(json, kind.as_str());
            assert_eq!(serde_json::from_value::<DetailType>(json).unwrap(), kind);
        }
        assert_eq!(DetailType::MessageSent.as_str(), "message.sent");
        assert_eq!(
            DetailType::CustomerOptedOut.to_string(),
            "customer.opted_out"
        );
    }

    #[test]
    fn events_carry_the_wire_name() {
        let tenant = TenantId::parse("acme").unwrap();
        let event = OutboundEvent::new(
            DetailType::KeywordMatched,
            tenant,
            DateTime::UNIX_EPOCH,
            serde_json::json!({}),
        );
        assert_eq!(
            serde_json::to_value(&event).unwrap()["detail_type"],
            "keyword.matched"
        );
    }
}
