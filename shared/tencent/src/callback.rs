//! Tencent's two callbacks, as its SMS API documentation shows them ("SMS Callback APIs":
//! "SMS Sending Status Notification" and "SMS Reply"): pure parsers, the HTTP layer
//! authenticates the call and acts on what they return.
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::Value;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::PROVIDER;
use nudge_core::domain::{DeliveryOutcome, DeliveryReport, Receipt, UndeliveredReason};
use nudge_core::service::InboundSms;

/// What Tencent expects back from either callback once it is handled.
pub const SUCCESS_ANSWER: &str = r#"{"result":0,"errmsg":"OK"}"#;

/// A callback body that is not what Tencent documents; `field` names the offending field
/// (`[2].sid` for the third status report).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct CallbackError {
    pub field: String,
    pub message: String,
}

impl CallbackError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        CallbackError {
            field: field.into(),
            message: message.into(),
        }
    }
}

type Object = serde_json::Map<String, Value>;

/// A string field of a report or reply; absent counts as empty where `optional`.
fn text<'a>(
    object: &'a Object,
    path: &str,
    name: &str,
    optional: bool,
) -> Result<&'a str, CallbackError> {
    match object.get(name) {
        Some(Value::String(value)) => Ok(value),
        None | Some(Value::Null) if optional => Ok(""),
        None | Some(Value::Null) => Err(CallbackError::new(format!("{path}{name}"), "is required")),
        Some(_) => Err(CallbackError::new(
            format!("{path}{name}"),
            "must be a string",
        )),
    }
}

/// Why a report's `errmsg` says the text did not arrive: the receipt status values of the
/// SMS documentation; carriers' own codes (`MK:0001`, `MN:0017`…) are `Other`, with their words
/// kept in the report.
fn reason(errmsg: &str) -> UndeliveredReason {
    match errmsg.trim().to_ascii_uppercase().as_str() {
        // Phone off, out of service, or deleted on the terminal.
        "UNDELIV" | "DELETED" => UndeliveredReason::Unreachable,
        "EXPIRED" => UndeliveredReason::Expired,
        // Refused by the carrier (content, unregistered sender).
        "REJECTD" => UndeliveredReason::Blocked,
        // The carrier refused the number's format.
        "SUBFAIL" => UndeliveredReason::InvalidNumber,
        _ => UndeliveredReason::Other,
    }
}

/// `2015-10-17 08:03:04`, Beijing time (Asia/Shanghai, UTC+8, no daylight saving).
fn beijing_time(field: &str, value: &str) -> Result<DateTime<Utc>, CallbackError> {
    let naive = NaiveDateTime::parse_from_str(value.trim(), "%Y-%m-%d %H:%M:%S").map_err(|_| {
        CallbackError::new(
            field,
            "is not a time like 2015-10-17 08:03:04 (Beijing time)",
        )
    })?;
    Shanghai
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| CallbackError::new(field, "is not a time in Beijing"))
}

fn report_receipt(index: usize, value: &Value) -> Result<Receipt, CallbackError> {
    let path = format!("[{index}].");
    let report = value.as_object().ok_or_else(|| {
        CallbackError::new(format!("[{index}]"), "must be a status report object")
    })?;
    let sid = text(report, &path, "sid", false)?.trim();
    if sid.is_empty() {
        return Err(CallbackError::new(format!("{path}sid"), "is required"));
    }
    let errmsg = text(report, &path, "errmsg", true)?.trim();
    let description = text(report, &path, "description", true)?.trim();
    let outcome = match text(report, &path, "report_status", false)?.trim() {
        "SUCCESS" => DeliveryOutcome::Delivered,
        "FAIL" => DeliveryOutcome::Undelivered(reason(errmsg)),
        _ => {
            return Err(CallbackError::new(
                format!("{path}report_status"),
                "must be SUCCESS or FAIL",
            ))
        }
    };
    let provider_status = match (errmsg, description) {
        (code, "") => code.to_string(),
        ("", words) => words.to_string(),
        (code, words) => format!("{code}: {words}"),
    };
    let received = text(report, &path, "user_receive_time", false)?;
    Ok(Receipt {
        provider: PROVIDER.into(),
        provider_id: sid.to_string(),
        outcome,
        report: DeliveryReport {
            at: beijing_time(&format!("{path}user_receive_time"), received)?,
            provider_status,
            price_usd: None,
            parts: None,
            carrier: None,
        },
    })
}

/// The receipts of a status callback: a JSON array of reports (an object alone is read as
/// an array of one).
pub fn parse_status(body: &[u8]) -> Result<Vec<Receipt>, CallbackError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| CallbackError::new("body", "is not JSON"))?;
    let reports = match value {
        Value::Array(reports) => reports,
        report @ Value::Object(_) => vec![report],
        _ => {
            return Err(CallbackError::new(
                "body",
                "must be an array of status reports",
            ))
        }
    };
    reports
        .iter()
        .enumerate()
        .map(|(index, report)| report_receipt(index, report))
        .collect()
}

fn digits(field: &str, value: &str) -> Result<String, CallbackError> {
    let value = value.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CallbackError::new(field, "must be digits"));
    }
    Ok(value.to_string())
}

/// The reply of a reply callback, to the number `to` (the tenant's: Tencent's callback does
/// not say which number was texted). Tencent gives a reply no id, so its id is made of what
/// identifies it: the same reply delivered again has the same id and is handled once.
pub fn parse_reply(body: &[u8], to: &str) -> Result<InboundSms, CallbackError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| CallbackError::new("body", "is not JSON"))?;
    let reply = value
        .as_object()
        .ok_or_else(|| CallbackError::new("body", "must be a reply object"))?;
    let mobile = digits("mobile", text(reply, "", "mobile", false)?)?;
    let nationcode = digits("nationcode", text(reply, "", "nationcode", false)?)?;
    let body = text(reply, "", "text", true)?;
    let extend = text(reply, "", "extend", true)?;
    let time = match reply.get("time") {
        Some(Value::Number(n)) => n.as_i64().filter(|t| *t > 0),
        // Some senders quote numbers; the value is what counts.
        Some(Value::String(s)) => s.trim().parse::<i64>().ok().filter(|t| *t > 0),
        _ => None,
    }
    .ok_or_else(|| CallbackError::new("time", "must be a Unix time in seconds"))?;
    let mut id = Sha256::new();
    for part in [
        nationcode.as_str(),
        mobile.as_str(),
        &time.to_string(),
        extend,
        body,
    ] {
        // Lengths first, so no two different replies hash the same parts.
        id.update((part.len() as u64).to_be_bytes());
        id.update(part.as_bytes());
    }
    Ok(InboundSms {
        from: format!("+{nationcode}{mobile}"),
        to: to.to_string(),
        body: body.to_string(),
        provider_id: format!("tencent-reply-{}", hex::encode(&id.finalize()[..16])),
        in_reply_to: None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The documentation's sample status callback (its Chinese page's wording).
    const STATUS: &str = r#"[{"user_receive_time": "2015-10-17 08:03:04","nationcode": "86","mobile": "13xxxxxxxxx","report_status": "SUCCESS","errmsg": "DELIVRD","description": "用户短信送达成功","sid": "xxxxxxx"}]"#;

    #[test]
    fn a_documented_status_report_is_a_delivered_receipt_in_utc() {
        let receipts = parse_status(STATUS.as_bytes()).unwrap();
        assert_eq!(receipts.len(), 1);
        let receipt = &receipts[0];
        assert_eq!(receipt.provider, "tencent");
        assert_eq!(receipt.provider_id, "xxxxxxx");
        assert_eq!(receipt.outcome, DeliveryOutcome::Delivered);
        assert_eq!(receipt.report.provider_status, "DELIVRD: 用户短信送达成功");
        assert_eq!(
            receipt.report.at,
            "2015-10-17T00:03:04Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn failures_map_their_receipt_status() {
        let body = r#"[
          {"user_receive_time": "2021-01-01 00:00:00", "report_status": "FAIL", "errmsg": "EXPIRED", "description": "", "sid": "a"},
          {"user_receive_time": "2021-01-01 00:00:00", "report_status": "FAIL", "errmsg": "REJECTD", "description": "x", "sid": "b"},
          {"user_receive_time": "2021-01-01 00:00:00", "report_status": "FAIL", "errmsg": "MK:0001", "description": "空号", "sid": "c"}
        ]"#;
        let outcomes: Vec<DeliveryOutcome> = parse_status(body.as_bytes())
            .unwrap()
            .into_iter()
            .map(|r| r.outcome)
            .collect();
        assert_eq!(
            outcomes,
            vec![
                DeliveryOutcome::Undelivered(UndeliveredReason::Expired),
                DeliveryOutcome::Undelivered(UndeliveredReason::Blocked),
                DeliveryOutcome::Undelivered(UndeliveredReason::Other),
            ]
        );
    }

    #[test]
    fn bad_status_reports_name_the_field() {
        let field = |body: &str| parse_status(body.as_bytes()).unwrap_err().field;
        assert_eq!(field("nope"), "body");
        assert_eq!(field("3"), "body");
        assert_eq!(
            field(r#"[{"user_receive_time": "2021-01-01 00:00:00", "report_status": "SUCCESS"}]"#),
            "[0].sid"
        );
        assert_eq!(
            field(
                r#"[{"user_receive_time": "yesterday", "report_status": "SUCCESS", "sid": "a"}]"#
            ),
            "[0].user_receive_time"
        );
        assert_eq!(
            field(
                r#"[{"user_receive_time": "2021-01-01 00:00:00", "report_status": "MAYBE", "sid": "a"}]"#
            ),
            "[0].report_status"
        );
    }

    /// The documentation's sample reply callback.
    const REPLY: &str = r#"{"extend": "", "mobile": "13xxxxxxxxx", "nationcode": "86", "sign": "SMS signature", "text": "TD", "time": 1547953920}"#;

    #[test]
    fn a_reply_comes_from_the_full_number_with_a_stable_id() {
        let body = REPLY.replace("13xxxxxxxxx", "13800138000");
        let sms = parse_reply(body.as_bytes(), "+8610690000").unwrap();
        assert_eq!(sms.from, "+8613800138000");
        assert_eq!(sms.to, "+8610690000");
        assert_eq!(sms.body, "TD");
        assert!(sms.provider_id.starts_with("tencent-reply-"));
        assert_eq!(
            parse_reply(body.as_bytes(), "+8610690000")
                .unwrap()
                .provider_id,
            sms.provider_id
        );
        let later = body.replace("1547953920", "1547953921");
        assert_ne!(
            parse_reply(later.as_bytes(), "+8610690000")
                .unwrap()
                .provider_id,
            sms.provider_id
        );
    }

    #[test]
    fn bad_replies_name_the_field() {
        let field = |body: &str| parse_reply(body.as_bytes(), "+1").unwrap_err().field;
        // The documented sample's masked number is not a number.
        assert_eq!(field(REPLY), "mobile");
        assert_eq!(
            field(r#"{"mobile": "138", "text": "TD", "time": 1}"#),
            "nationcode"
        );
        assert_eq!(
            field(r#"{"mobile": "138", "nationcode": "86", "text": "TD", "time": [1]}"#),
            "time"
        );
        assert_eq!(field("[]"), "body");
    }
}
