//! EUM SMS events (what the configuration set's event destination publishes for every text)
//! read as delivery receipts.
//!
//! The stack's event destination is an SNS topic with an SQS queue subscribed, so an event
//! arrives as an SQS message whose body is the SNS notification whose `Message` is the event
//! JSON ([`read_queue_body`]; a raw-delivery subscription's bare event is read too). The
//! event's shape is AWS's documented "SMS example log" (`infra/events/eum-sms-event-*.json`).
//!
//! A text has several events: `TEXT_QUEUED`, `TEXT_SENT`, `TEXT_PENDING` on the way, then one
//! final one. Only a final event (`isFinal`, and a type that says what happened) settles the
//! text; the others are [`Reading::NotYet`]. `TEXT_UNKNOWN` is final for EUM (it also sends
//! it when no carrier answered within 72 hours) but says nothing of the text's fate, so it
//! settles nothing either: the text stays `sent`, as one without any receipt does.
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use thiserror::Error;

use nudge_core::domain::{DeliveryOutcome, DeliveryReport, Receipt, UndeliveredReason};

use crate::PROVIDER;

#[derive(Debug, Error)]
pub enum EventError {
    #[error("not an EUM SMS event: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("an SNS notification of type {0:?}, not a Notification")]
    NotANotification(String),
    #[error("eventType {0:?} is not an SMS event nudge knows")]
    EventType(String),
    #[error("eventTimestamp {0} is not a time")]
    Timestamp(i64),
    #[error("messageId is empty")]
    NoMessageId,
}

/// What one event says about its text.
#[derive(Clone, Debug, PartialEq)]
pub enum Reading {
    /// The text's final outcome.
    Receipt(Receipt),
    /// A step on the way (queued, sent, pending, or a final type sent as not final), or a
    /// final word that tells nothing (`TEXT_UNKNOWN`): no receipt yet.
    NotYet {
        provider_id: String,
        event_type: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SmsEvent {
    event_type: String,
    event_timestamp: i64,
    #[serde(default)]
    is_final: Option<bool>,
    message_id: String,
    #[serde(default)]
    message_status: Option<String>,
    #[serde(default)]
    message_status_description: Option<String>,
    #[serde(default)]
    carrier_name: Option<String>,
    #[serde(default)]
    total_message_parts: Option<u32>,
    #[serde(default)]
    total_message_price: Option<f64>,
    #[serde(default)]
    total_carrier_fee: Option<f64>,
    /// What the sender put in `Context`: the tenant and nudge's message id.
    #[serde(default)]
    context: HashMap<String, serde_json::Value>,
}

/// What an event type says, before `isFinal` is considered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Says {
    OnTheWay,
    Delivered,
    Undelivered(UndeliveredReason),
    /// `TEXT_UNKNOWN`: EUM does not know.
    Nothing,
}

/// The event types of AWS's "Event types for SMS" list, as nudge reads them.
fn says(event_type: &str) -> Option<Says> {
    use UndeliveredReason as R;
    Some(match event_type {
        "TEXT_QUEUED" | "TEXT_SENT" | "TEXT_PENDING" => Says::OnTheWay,
        // Depending on the country one or the other (or both) reports success.
        "TEXT_DELIVERED" | "TEXT_SUCCESSFUL" => Says::Delivered,
        "TEXT_BLOCKED" | "TEXT_CARRIER_BLOCKED" | "TEXT_SPAM" => Says::Undelivered(R::Blocked),
        "TEXT_TTL_EXPIRED" => Says::Undelivered(R::Expired),
        "TEXT_UNREACHABLE" | "TEXT_CARRIER_UNREACHABLE" => Says::Undelivered(R::Unreachable),
        "TEXT_INVALID" => Says::Undelivered(R::InvalidNumber),
        // The account's own protect configuration or a body EUM would not send: nothing
        // about the number, so not `blocked` (which counts against the number).
        "TEXT_PROTECT_BLOCKED" | "TEXT_INVALID_MESSAGE" => Says::Undelivered(R::Other),
        "TEXT_UNKNOWN" => Says::Nothing,
        _ => return None,
    })
}

/// Reads one EUM SMS event (the event JSON itself).
pub fn read_event(event: &str) -> Result<Reading, EventError> {
    let event: SmsEvent = serde_json::from_str(event)?;
    let says =
        says(&event.event_type).ok_or_else(|| EventError::EventType(event.event_type.clone()))?;
    if event.message_id.trim().is_empty() {
        return Err(EventError::NoMessageId);
    }
    let at = DateTime::<Utc>::from_timestamp_millis(event.event_timestamp)
        .ok_or(EventError::Timestamp(event.event_timestamp))?;
    // A final type EUM still calls not final (a carrier error it retries) settles nothing.
    let outcome = match (says, event.is_final.unwrap_or(true)) {
        (Says::Delivered, true) => DeliveryOutcome::Delivered,
        (Says::Undelivered(reason), true) => DeliveryOutcome::Undelivered(reason),
        _ => {
            return Ok(Reading::NotYet {
                provider_id: event.message_id,
                event_type: event.event_type,
            })
        }
    };
    let provider_status = match (
        event.message_status.filter(|s| !s.is_empty()),
        event.message_status_description.filter(|s| !s.is_empty()),
    ) {
        (Some(status), Some(description)) => format!("{status}: {description}"),
        (Some(only), None) | (None, Some(only)) => only,
        (None, None) => event.event_type.clone(),
    };
    // The carrier fee (US carriers charge one per text) is billed on top of the price.
    let price_usd = match (event.total_message_price, event.total_carrier_fee) {
        (None, None) => None,
        (price, fee) => Some(price.unwrap_or(0.0) + fee.unwrap_or(0.0)),
    };
    Ok(Reading::Receipt(Receipt {
        provider: PROVIDER.to_string(),
        provider_id: event.message_id,
        outcome,
        report: DeliveryReport {
            at,
            provider_status,
            price_usd,
            parts: event.total_message_parts,
            carrier: event.carrier_name.filter(|c| !c.trim().is_empty()),
        },
    }))
}

/// The tenant and message id the sender put in the event's `Context`, when it is there
/// (texts sent by another system on the same configuration set carry none).
pub fn context_of(event: &str) -> Option<(String, String)> {
    let event: SmsEvent = serde_json::from_str(event).ok()?;
    let text = |key: &str| event.context.get(key)?.as_str().map(str::to_string);
    Some((
        text(crate::CONTEXT_TENANT)?,
        text(crate::CONTEXT_MESSAGE_ID)?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: String,
    message: String,
}

/// The EUM event in an SQS message body: an SNS notification (the topic's subscription with
/// raw message delivery off, as the stack makes it) whose `Message` is the event, or the bare
/// event (raw delivery on).
pub fn event_in_queue_body(body: &str) -> Result<String, EventError> {
    let value: serde_json::Value = serde_json::from_str(body)?;
    if value.get("eventType").is_some() {
        return Ok(body.to_string());
    }
    let notification: SnsNotification = serde_json::from_value(value)?;
    if notification.kind != "Notification" {
        return Err(EventError::NotANotification(notification.kind));
    }
    Ok(notification.message)
}

/// Reads the EUM event in one SQS message body.
pub fn read_queue_body(body: &str) -> Result<Reading, EventError> {
    read_event(&event_in_queue_body(body)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn fixture(name: &str) -> String {
        let path = format!("{}/../../infra/events/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    fn receipt(reading: Reading) -> Receipt {
        match reading {
            Reading::Receipt(receipt) => receipt,
            other => panic!("no receipt: {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_is_a_delivered_receipt() {
        let receipt = receipt(read_event(&fixture("eum-sms-event-successful.json")).unwrap());
        assert_eq!(receipt.provider, "eum");
        assert_eq!(receipt.provider_id, "862a8790-60c0-4430-9b2b-658bdexample");
        assert_eq!(receipt.outcome, DeliveryOutcome::Delivered);
        assert_eq!(
            receipt.report.at,
            Utc.timestamp_millis_opt(1_686_975_103_470).unwrap()
        );
        assert_eq!(
            receipt.report.provider_status,
            "SUCCESSFUL: Message has been accepted by phone carrier"
        );
        assert_eq!(receipt.report.price_usd, Some(0.09582));
        assert_eq!(receipt.report.parts, Some(1));
        assert_eq!(receipt.report.carrier, None);
    }

    #[test]
    fn a_delivered_event_of_nudges_text_carries_its_context_price_and_carrier() {
        let event = fixture("eum-sms-event-delivered.json");
        let receipt = receipt(read_event(&event).unwrap());
        assert_eq!(receipt.outcome, DeliveryOutcome::Delivered);
        assert_eq!(receipt.report.parts, Some(2));
        // Price plus the carrier fee.
        let price = receipt.report.price_usd.unwrap();
        assert!((price - (0.01162 + 0.00302)).abs() < 1e-12, "{price}");
        assert_eq!(receipt.report.carrier.as_deref(), Some("T-Mobile"));
        assert_eq!(
            context_of(&event),
            Some(("acme".to_string(), "m-1".to_string()))
        );
        assert_eq!(context_of(&fixture("eum-sms-event-successful.json")), None);
    }

    #[test]
    fn a_blocked_event_is_undelivered_blocked() {
        let receipt = receipt(read_event(&fixture("eum-sms-event-blocked.json")).unwrap());
        assert_eq!(
            receipt.outcome,
            DeliveryOutcome::Undelivered(UndeliveredReason::Blocked)
        );
        assert!(receipt.report.provider_status.starts_with("BLOCKED: "));
    }

    fn with_type(event_type: &str, is_final: bool) -> String {
        let mut event: serde_json::Value =
            serde_json::from_str(&fixture("eum-sms-event-delivered.json")).unwrap();
        event["eventType"] = event_type.into();
        event["isFinal"] = is_final.into();
        event.to_string()
    }

    #[test]
    fn every_final_type_maps_to_its_outcome() {
        use UndeliveredReason as R;
        let cases = [
            ("TEXT_DELIVERED", DeliveryOutcome::Delivered),
            ("TEXT_SUCCESSFUL", DeliveryOutcome::Delivered),
            ("TEXT_BLOCKED", DeliveryOutcome::Undelivered(R::Blocked)),
            (
                "TEXT_CARRIER_BLOCKED",
                DeliveryOutcome::Undelivered(R::Blocked),
            ),
            ("TEXT_SPAM", DeliveryOutcome::Undelivered(R::Blocked)),
            ("TEXT_TTL_EXPIRED", DeliveryOutcome::Undelivered(R::Expired)),
            (
                "TEXT_UNREACHABLE",
                DeliveryOutcome::Undelivered(R::Unreachable),
            ),
            (
                "TEXT_CARRIER_UNREACHABLE",
                DeliveryOutcome::Undelivered(R::Unreachable),
            ),
            (
                "TEXT_INVALID",
                DeliveryOutcome::Undelivered(R::InvalidNumber),
            ),
            (
                "TEXT_INVALID_MESSAGE",
                DeliveryOutcome::Undelivered(R::Other),
            ),
            (
                "TEXT_PROTECT_BLOCKED",
                DeliveryOutcome::Undelivered(R::Other),
            ),
        ];
        for (event_type, outcome) in cases {
            let receipt = receipt(read_event(&with_type(event_type, true)).unwrap());
            assert_eq!(receipt.outcome, outcome, "{event_type}");
        }
    }

    #[test]
    fn steps_on_the_way_unknown_and_non_final_events_settle_nothing() {
        for (event_type, is_final) in [
            ("TEXT_QUEUED", false),
            ("TEXT_SENT", false),
            ("TEXT_PENDING", false),
            ("TEXT_UNKNOWN", true),
            ("TEXT_CARRIER_UNREACHABLE", false),
            ("TEXT_SUCCESSFUL", false),
        ] {
            assert_eq!(
                read_event(&with_type(event_type, is_final)).unwrap(),
                Reading::NotYet {
                    provider_id: "a1b2c3d4-0000-4000-8000-00000000e001".into(),
                    event_type: event_type.into()
                },
                "{event_type}"
            );
        }
    }

    #[test]
    fn events_of_another_shape_are_refused_with_what_is_wrong() {
        assert!(matches!(
            read_event(&with_type("VOICE_COMPLETED", true)),
            Err(EventError::EventType(t)) if t == "VOICE_COMPLETED"
        ));
        assert!(matches!(
            read_event(r#"{"eventType": "TEXT_DELIVERED"}"#),
            Err(EventError::Shape(_))
        ));
        let mut no_id: serde_json::Value =
            serde_json::from_str(&fixture("eum-sms-event-delivered.json")).unwrap();
        no_id["messageId"] = " ".into();
        assert!(matches!(
            read_event(&no_id.to_string()),
            Err(EventError::NoMessageId)
        ));
    }

    #[test]
    fn queue_bodies_are_sns_notifications_or_bare_events() {
        let sqs: serde_json::Value = serde_json::from_str(&fixture("sqs-eum-events.json")).unwrap();
        let body = sqs["Records"][0]["body"].as_str().unwrap();
        let receipt = receipt(read_queue_body(body).unwrap());
        assert_eq!(receipt.provider_id, "a1b2c3d4-0000-4000-8000-00000000e001");
        let bare = fixture("eum-sms-event-blocked.json");
        assert!(matches!(
            read_queue_body(&bare).unwrap(),
            Reading::Receipt(_)
        ));
        let confirmation =
            r#"{"Type": "SubscriptionConfirmation", "Message": "You have chosen to subscribe"}"#;
        assert!(matches!(
            read_queue_body(confirmation),
            Err(EventError::NotANotification(t)) if t == "SubscriptionConfirmation"
        ));
        assert!(matches!(
            read_queue_body("not json"),
            Err(EventError::Shape(_))
        ));
    }
}
