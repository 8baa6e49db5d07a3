//! CloudWatch Logs as the receipts function meets it: log events written to a log group in
//! the emulator, and the subscription event CloudWatch Logs would invoke the function with
//! (the batch's JSON, gzipped and base64-encoded under `awslogs.data`).
use base64::Engine as _;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::{json, Value};
use std::io::Write;

use crate::moto;

/// The account id moto answers with.
pub const ACCOUNT: &str = "123456789012";

/// SNS's log group of successful SMS deliveries in us-east-1, as SNS names it.
pub fn sns_success_group() -> String {
    format!("sns/us-east-1/{ACCOUNT}/DirectPublishToPhoneNumber")
}

/// Writes `messages` to a fresh stream of `group` (created if missing) and returns the log
/// events as CloudWatch Logs stores them (`GetLogEvents`), each with an `id` as a
/// subscription delivers it.
pub fn write_and_read(group: &str, messages: &[String]) -> (String, Vec<Value>) {
    let (status, body) = moto::request(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.1"),
            ("X-Amz-Target", "Logs_20140328.CreateLogGroup"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/logs/aws4_request, \
                 SignedHeaders=host, Signature=0",
            ),
        ],
        &json!({ "logGroupName": group }).to_string(),
    );
    assert!(
        status == 200 || body.contains("ResourceAlreadyExists"),
        "{status}: {body}"
    );
    let stream = moto::unique_name("2026/03/09/[$LATEST]");
    moto::json_call(
        "Logs_20140328.CreateLogStream",
        json!({"logGroupName": group, "logStreamName": stream}),
    );
    let now = chrono::Utc::now().timestamp_millis();
    let events: Vec<Value> = messages
        .iter()
        .map(|m| json!({"timestamp": now, "message": m}))
        .collect();
    moto::json_call(
        "Logs_20140328.PutLogEvents",
        json!({"logGroupName": group, "logStreamName": stream, "logEvents": events}),
    );
    let stored = moto::json_call(
        "Logs_20140328.GetLogEvents",
        json!({"logGroupName": group, "logStreamName": stream, "startFromHead": true}),
    );
    let read = stored["events"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(n, e)| {
            json!({
                "id": format!("{}{n:04}", e["timestamp"]),
                "timestamp": e["timestamp"],
                "message": e["message"],
            })
        })
        .collect();
    (stream, read)
}

/// The event a subscription filter named `filter` invokes its Lambda destination with.
pub fn subscription_event(group: &str, stream: &str, filter: &str, events: &[Value]) -> Value {
    encode(&json!({
        "messageType": "DATA_MESSAGE",
        "owner": ACCOUNT,
        "logGroup": group,
        "logStream": stream,
        "subscriptionFilters": [filter],
        "logEvents": events,
    }))
}

/// A subscription event carrying `data` (its JSON gzipped, then base64-encoded).
pub fn encode(data: &Value) -> Value {
    let mut gzip = GzEncoder::new(Vec::new(), Compression::default());
    gzip.write_all(data.to_string().as_bytes())
        .unwrap_or_else(|e| panic!("gzip: {e}"));
    let compressed = gzip.finish().unwrap_or_else(|e| panic!("gzip: {e}"));
    json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(compressed)}})
}
