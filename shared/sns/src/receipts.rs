//! SNS SMS delivery-status log records (what SNS writes to the log groups
//! `sns/REGION/ACCOUNT/DirectPublishToPhoneNumber` and `…/Failure` once the account's
//! `DeliveryStatusIAMRole` is set) read as delivery receipts.
//!
//! The record's shape is AWS's documented example (`infra/events/sns-sms-delivery-*.json`).
//! SNS documents no list of `providerResponse` texts, so a failure's reason is read from the
//! words it uses (opted out, blocked, invalid, unreachable, price, quota) and is `other`,
//! with SNS's own words kept, when none matches.
use chrono::{NaiveDateTime, TimeDelta};
use serde::Deserialize;
use thiserror::Error;

use nudge_core::domain::{DeliveryOutcome, DeliveryReport, Receipt, UndeliveredReason};

use crate::PROVIDER;

#[derive(Debug, Error)]
pub enum LogRecordError {
    #[error("not an SNS SMS delivery record: {0}")]
    Shape(#[from] serde_json::Error),
    #[error("notification.timestamp {0:?} is not `YYYY-MM-DD HH:MM:SS.mmm`")]
    Timestamp(String),
    #[error("status {0:?} is neither SUCCESS nor FAILURE")]
    Status(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    notification: Notification,
    delivery: Delivery,
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    message_id: String,
    timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delivery {
    #[serde(default)]
    phone_carrier: Option<String>,
    #[serde(default, rename = "priceInUSD")]
    price_in_usd: Option<f64>,
    #[serde(default)]
    provider_response: Option<String>,
    #[serde(default)]
    number_of_message_parts: Option<u32>,
    #[serde(default)]
    dwell_time_ms_until_device_ack: Option<i64>,
}

/// The receipt one log record (a log event's `message`) reports.
pub fn delivery_receipt(record: &str) -> Result<Receipt, LogRecordError> {
    let record: Record = serde_json::from_str(record)?;
    let published =
        NaiveDateTime::parse_from_str(&record.notification.timestamp, "%Y-%m-%d %H:%M:%S%.f")
            .map_err(|_| LogRecordError::Timestamp(record.notification.timestamp.clone()))?
            .and_utc();
    // The publish time plus how long the phone took to acknowledge: when it arrived (or
    // when SNS gave up).
    let at = published
        + TimeDelta::milliseconds(record.delivery.dwell_time_ms_until_device_ack.unwrap_or(0));
    let provider_status = record
        .delivery
        .provider_response
        .clone()
        .unwrap_or_default();
    let outcome = match record.status.as_str() {
        "SUCCESS" => DeliveryOutcome::Delivered,
        "FAILURE" => DeliveryOutcome::Undelivered(reason(&provider_status)),
        other => return Err(LogRecordError::Status(other.to_string())),
    };
    Ok(Receipt {
        provider: PROVIDER.to_string(),
        provider_id: record.notification.message_id,
        outcome,
        report: DeliveryReport {
            at,
            provider_status,
            price_usd: record.delivery.price_in_usd,
            parts: record.delivery.number_of_message_parts,
            carrier: record.delivery.phone_carrier.filter(|c| !c.is_empty()),
        },
    })
}

/// nudge's reason for a failure, from the words of SNS's `providerResponse`.
pub fn reason(provider_response: &str) -> UndeliveredReason {
    let text = provider_response.to_ascii_lowercase();
    let says = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if says(&["opted out", "opted-out", "optedout"]) {
        UndeliveredReason::OptedOut
    } else if says(&["max price", "maxprice", "exceed max"]) {
        UndeliveredReason::PriceExceeded
    } else if says(&["quota", "spend limit", "spending limit"]) {
        UndeliveredReason::SpendLimit
    } else if says(&["blocked", "spam", "filtered"]) {
        UndeliveredReason::Blocked
    } else if says(&[
        "invalid",
        "not valid",
        "unknown subscriber",
        "not a mobile",
        "landline",
    ]) {
        UndeliveredReason::InvalidNumber
    } else if says(&["ttl", "expired", "time to live"]) {
        UndeliveredReason::Expired
    } else if says(&[
        "unreachable",
        "unavailable",
        "reach phone",
        "switched off",
        "timed out",
    ]) {
        UndeliveredReason::Unreachable
    } else {
        UndeliveredReason::Other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{TimeZone, Utc};

    fn fixture(name: &str) -> String {
        let path = format!("{}/../../infra/events/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn the_documented_success_record_is_a_delivered_receipt() {
        let receipt = delivery_receipt(&fixture("sns-sms-delivery-success.json")).unwrap();
        assert_eq!(receipt.provider, "sns");
        assert_eq!(receipt.provider_id, "34d9b400-c6dd-5444-820d-fbeb0f1f54cf");
        assert_eq!(receipt.outcome, DeliveryOutcome::Delivered);
        let published =
            Utc.with_ymd_and_hms(2016, 6, 28, 0, 40, 34).unwrap() + TimeDelta::milliseconds(558);
        assert_eq!(receipt.report.at, published + TimeDelta::milliseconds(1344));
        assert_eq!(receipt.report.price_usd, Some(0.00645));
        assert_eq!(receipt.report.carrier.as_deref(), Some("My Phone Carrier"));
        assert_eq!(
            receipt.report.provider_status,
            "Message has been accepted by phone carrier"
        );
    }

    #[test]
    fn the_documented_failure_record_is_unreachable() {
        let receipt = delivery_receipt(&fixture("sns-sms-delivery-failure.json")).unwrap();
        assert_eq!(
            receipt.outcome,
            DeliveryOutcome::Undelivered(UndeliveredReason::Unreachable)
        );
        assert_eq!(receipt.report.carrier, None);
    }

    #[test]
    fn failure_words_map_to_reasons() {
        let cases = [
            ("Phone is currently opted out", UndeliveredReason::OptedOut),
            (
                "This delivery would exceed max price",
                UndeliveredReason::PriceExceeded,
            ),
            ("No quota left for account", UndeliveredReason::SpendLimit),
            (
                "Phone carrier has blocked this message",
                UndeliveredReason::Blocked,
            ),
            ("Invalid phone number", UndeliveredReason::InvalidNumber),
            (
                "Phone is currently unreachable/unavailable",
                UndeliveredReason::Unreachable,
            ),
            ("Message has expired (TTL)", UndeliveredReason::Expired),
            ("Something new", UndeliveredReason::Other),
        ];
        for (words, expected) in cases {
            assert_eq!(reason(words), expected, "{words}");
        }
    }

    #[test]
    fn records_of_another_shape_are_refused_with_what_is_wrong() {
        assert!(matches!(
            delivery_receipt(r#"{"status": "SUCCESS"}"#),
            Err(LogRecordError::Shape(_))
        ));
        let odd_status = fixture("sns-sms-delivery-success.json").replace("SUCCESS", "PENDING");
        assert!(matches!(
            delivery_receipt(&odd_status),
            Err(LogRecordError::Status(s)) if s == "PENDING"
        ));
        let odd_time = fixture("sns-sms-delivery-success.json")
            .replace("2016-06-28 00:40:34.558", "yesterday");
        assert!(matches!(
            delivery_receipt(&odd_time),
            Err(LogRecordError::Timestamp(_))
        ));
    }
}
