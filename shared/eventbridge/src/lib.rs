//! The production event publisher: Amazon EventBridge `PutEvents` on the project's bus.
//!
//! Events go in requests of at most 10 entries and 256 KB. Entries the bus rejects
//! (`FailedEntryCount` > 0) are sent again, alone, a bounded number of times with backoff;
//! what still fails is reported as a retryable provider error naming how many — never dropped
//! silently.
use async_trait::async_trait;
use aws_sdk_eventbridge::primitives::DateTime as AwsDateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use nudge_aws::provider_error;
use nudge_core::error::{Error, Result};
use nudge_core::ports::{EventPublisher, OutboundEvent};

/// The `source` of every event nudge publishes.
pub const SOURCE: &str = "nudge";
/// Most entries in one `PutEvents` request.
pub const MAX_ENTRIES: usize = 10;
/// Most bytes of entries in one `PutEvents` request (as EventBridge counts them).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;
/// What EventBridge counts for an entry's `Time`.
const TIME_BYTES: usize = 14;

/// How often and how patiently rejected entries are sent again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Extra rounds after the first request.
    pub rounds: u32,
    /// Delay before the first extra round; doubles per round.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            rounds: 3,
            base_delay: Duration::from_millis(100),
        }
    }
}

#[derive(Clone, Debug)]
pub struct EventBridgePublisher {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
    retry: RetryPolicy,
}

/// One event as it goes on the wire.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    detail_type: String,
    detail: String,
    time_millis: i64,
}

impl Entry {
    fn from_event(event: &OutboundEvent) -> Result<Entry> {
        let detail = detail_json(event);
        Ok(Entry {
            detail_type: event.detail_type.clone(),
            detail: serde_json::to_string(&detail).map_err(Error::store)?,
            time_millis: event.time.timestamp_millis(),
        })
    }

    /// The size EventBridge counts against the 256 KB limit.
    fn size(&self) -> usize {
        TIME_BYTES + SOURCE.len() + self.detail_type.len() + self.detail.len()
    }
}

/// The event's detail with the tenant first: `{"tenant": …, …detail}`. A detail that is not
/// a JSON object is carried under `"value"`.
pub fn detail_json(event: &OutboundEvent) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    object.insert(
        "tenant".into(),
        serde_json::Value::String(event.tenant.as_str().to_string()),
    );
    match &event.detail {
        serde_json::Value::Object(fields) => {
            for (key, value) in fields {
                if key != "tenant" {
                    object.insert(key.clone(), value.clone());
                }
            }
        }
        serde_json::Value::Null => {}
        other => {
            object.insert("value".into(), other.clone());
        }
    }
    serde_json::Value::Object(object)
}

/// Splits entries (given by size) into consecutive requests of at most [`MAX_ENTRIES`]
/// entries and [`MAX_REQUEST_BYTES`] bytes. Every size must be at most the byte limit.
pub fn batches(sizes: &[usize]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, size) in sizes.iter().enumerate() {
        let full = i - start == MAX_ENTRIES || bytes + size > MAX_REQUEST_BYTES;
        if full && i > start {
            out.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        out.push(start..sizes.len());
    }
    out
}

impl EventBridgePublisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        EventBridgePublisher {
            client,
            bus_name: bus_name.into(),
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    fn request_entry(&self, entry: &Entry) -> PutEventsRequestEntry {
        PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(SOURCE)
            .detail_type(&entry.detail_type)
            .detail(&entry.detail)
            .time(AwsDateTime::from_millis(entry.time_millis))
            .build()
    }

    /// Sends one batch, re-sending rejected entries. Returns the error codes of the entries
    /// that still failed after the last round (empty when all were accepted).
    async fn put_batch(&self, batch: &[Entry]) -> Result<Vec<String>> {
        let mut pending: Vec<&Entry> = batch.iter().collect();
        let mut codes = Vec::new();
        let mut delay = self.retry.base_delay;
        for round in 0..=self.retry.rounds {
            if round > 0 {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            let request = self.client.put_events().set_entries(Some(
                pending.iter().map(|e| self.request_entry(e)).collect(),
            ));
            let output = match request.send().await {
                Ok(output) => output,
                Err(err) => {
                    let error = provider_error("eventbridge", &err);
                    if error.is_retryable() && round < self.retry.rounds {
                        tracing::warn!(error = %error, round, "PutEvents failed, retrying");
                        continue;
                    }
                    return Err(error);
                }
            };
            if output.failed_entry_count() == 0 {
                return Ok(Vec::new());
            }
            let results = output.entries();
            let mut still = Vec::new();
            codes.clear();
            for (i, entry) in pending.iter().enumerate() {
                // A missing result entry is counted as failed: never assume success.
                let code = match results.get(i) {
                    Some(result) => result.error_code().map(str::to_string),
                    None => Some("Missing".to_string()),
                };
                if let Some(code) = code {
                    still.push(*entry);
                    codes.push(code);
                }
            }
            tracing::warn!(failed = still.len(), round, codes = ?codes, "PutEvents rejected entries");
            if still.is_empty() {
                return Ok(Vec::new());
            }
            pending = still;
        }
        Ok(codes)
    }
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<()> {
        let entries = events
            .iter()
            .map(Entry::from_event)
            .collect::<Result<Vec<_>>>()?;
        let sizes: Vec<usize> = entries.iter().map(Entry::size).collect();
        if let Some((i, size)) = sizes
            .iter()
            .enumerate()
            .find(|(_, s)| **s > MAX_REQUEST_BYTES)
        {
            return Err(Error::invalid(
                format!("events[{i}].detail"),
                format!("{size} bytes exceed the EventBridge limit of {MAX_REQUEST_BYTES}"),
            ));
        }
        let mut failed: BTreeMap<String, usize> = BTreeMap::new();
        for range in batches(&sizes) {
            for code in self.put_batch(&entries[range]).await? {
                *failed.entry(code).or_default() += 1;
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        let count: usize = failed.values().sum();
        let codes: Vec<String> = failed.iter().map(|(c, n)| format!("{c}×{n}")).collect();
        Err(Error::Provider {
            retryable: true,
            message: format!(
                "eventbridge: {count} of {} events failed after {} retries ({})",
                events.len(),
                self.retry.rounds,
                codes.join(", ")
            ),
            source: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use nudge_core::domain::TenantId;
    use serde_json::json;

    #[test]
    fn batches_hold_at_most_ten_entries() {
        let sizes = vec![100; 25];
        assert_eq!(batches(&sizes), vec![0..10, 10..20, 20..25]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn batches_hold_at_most_256_kb() {
        let big = 100 * 1024;
        assert_eq!(batches(&[big, big, big, 10]), vec![0..2, 2..4]);
        assert_eq!(
            batches(&[MAX_REQUEST_BYTES, 1]),
            vec![0..1, 1..2],
            "an entry at the limit is alone"
        );
    }

    #[test]
    fn detail_puts_the_tenant_first() {
        let event = OutboundEvent {
            detail_type: "message.sent".into(),
            tenant: TenantId::parse("acme").unwrap(),
            time: Utc.with_ymd_and_hms(2026, 1, 5, 2, 0, 0).unwrap(),
            detail: json!({"message_id": "m1", "tenant": "spoofed"}),
        };
        let detail = detail_json(&event);
        assert_eq!(
            serde_json::to_string(&detail).unwrap(),
            r#"{"tenant":"acme","message_id":"m1"}"#
        );
        let scalar = OutboundEvent {
            detail: json!(3),
            ..event
        };
        assert_eq!(detail_json(&scalar), json!({"tenant": "acme", "value": 3}));
    }
}
