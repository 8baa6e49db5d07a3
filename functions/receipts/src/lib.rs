//! The receipts function: delivery receipts of both AWS senders, recorded on their messages
//! (`sent` → `delivered` | `undelivered`).
//!
//! - **SNS**: SMS delivery-status log records, delivered by the CloudWatch Logs subscription
//!   filters the stack puts on SNS's two delivery log groups ([`handle_logs`]). CloudWatch
//!   Logs invokes the function asynchronously: a failed invocation is retried by Lambda. So a
//!   store failure fails the invocation (recording is idempotent: a receipt recorded before
//!   the failure finds its message settled on the retry), while a record that can never be
//!   read is logged and skipped, not retried for ever.
//! - **EUM**: SMS events of the configuration set, published to an SNS topic and queued in
//!   SQS ([`handle_sqs`]). A store failure makes that one message a batch item failure, so
//!   SQS delivers it again (and, after the queue's receive count, moves it to the dead-letter
//!   queue); a body that can never be read is logged and skipped.
//!
//! One function serves both: [`handle_event`] tells them apart by shape.
use aws_lambda_events::cloudwatch_logs::LogsEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::Serialize;

use nudge_core::error::{Error, Result};
use nudge_core::ports::{CustomerStore, DueIndex, MessageStore, SuppressionList};
use nudge_core::service::{ReceiptReport, Receipts};
use nudge_eum::receipts::{read_queue_body, Reading};
use nudge_sns::receipts::delivery_receipt;

/// What one invocation did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LogsReport {
    #[serde(flatten)]
    pub receipts: ReceiptReport,
    /// Log events that are not SNS delivery records (logged with their id).
    pub unreadable: u32,
}

/// Records the receipts of one batch of log events. A `CONTROL_MESSAGE` (CloudWatch Logs
/// checking that the destination is reachable) carries none.
pub async fn handle_logs<S>(receipts: &Receipts<S>, event: LogsEvent) -> Result<LogsReport>
where
    S: CustomerStore + DueIndex + MessageStore + SuppressionList + ?Sized,
{
    let data = event.aws_logs.data;
    let mut report = LogsReport::default();
    if data.message_type != "DATA_MESSAGE" {
        tracing::info!(message_type = %data.message_type, "no log events to read");
        return Ok(report);
    }
    for entry in &data.log_events {
        match delivery_receipt(&entry.message) {
            Ok(receipt) => report.receipts.add(receipts.record(&receipt).await?),
            Err(err) => {
                tracing::warn!(log_group = %data.log_group, event_id = %entry.id, error = %err,
                    "log event is not an SNS delivery record; skipped");
                report.unreadable += 1;
            }
        }
    }
    tracing::info!(?report, log_group = %data.log_group, "receipts recorded");
    Ok(report)
}

/// What one batch of queued EUM events did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueReport {
    #[serde(flatten)]
    pub receipts: ReceiptReport,
    /// Events that settle nothing yet (queued, sent, pending, unknown).
    pub not_yet: u32,
    /// Bodies that are not EUM SMS events (logged with their SQS message id).
    pub unreadable: u32,
    /// Messages left in the queue for another try (the store failed).
    pub failed: u32,
}

/// The answer to SQS (the messages to deliver again) and what the batch did.
#[derive(Clone, Debug, Default)]
pub struct QueueOutcome {
    pub response: SqsBatchResponse,
    pub report: QueueReport,
}

/// Records the receipts of one batch of SQS messages, each an EUM SMS event in its SNS
/// notification. Only store failures are returned for redelivery.
pub async fn handle_sqs<S>(receipts: &Receipts<S>, event: SqsEvent) -> QueueOutcome
where
    S: CustomerStore + DueIndex + MessageStore + SuppressionList + ?Sized,
{
    let mut outcome = QueueOutcome::default();
    for message in &event.records {
        let id = message.message_id.as_deref().unwrap_or_default();
        let reading = match read_queue_body(message.body.as_deref().unwrap_or_default()) {
            Ok(reading) => reading,
            Err(err) => {
                tracing::warn!(sqs_message_id = id, error = %err,
                    "queued message is not an EUM SMS event; skipped");
                outcome.report.unreadable += 1;
                continue;
            }
        };
        let receipt = match reading {
            Reading::Receipt(receipt) => receipt,
            Reading::NotYet {
                provider_id,
                event_type,
            } => {
                tracing::debug!(provider_id, event_type, "no outcome yet");
                outcome.report.not_yet += 1;
                continue;
            }
        };
        match receipts.record(&receipt).await {
            Ok(applied) => outcome.report.receipts.add(applied),
            Err(err) => {
                tracing::error!(sqs_message_id = id, error = %err, "receipt not recorded; will be retried");
                outcome.report.failed += 1;
                // An empty identifier makes Lambda retry the whole batch: still correct
                // (recording is idempotent), if no message id is there to name.
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.to_string();
                outcome.response.batch_item_failures.push(failure);
            }
        }
    }
    tracing::info!(report = ?outcome.report, "queued receipts recorded");
    outcome
}

/// Which of the function's two event sources invoked it.
#[derive(Debug)]
pub enum ReceiptsEvent {
    Logs(LogsEvent),
    Sqs(SqsEvent),
}

impl ReceiptsEvent {
    /// Tells the two apart by shape: a CloudWatch Logs subscription event has `awslogs`; an
    /// SQS event has `Records` whose `eventSource` is `aws:sqs`.
    pub fn from_payload(payload: serde_json::Value) -> Result<Self> {
        let read = |what: &str, err: serde_json::Error| {
            Error::invalid("event", format!("not a readable {what} event: {err}"))
        };
        if payload.get("awslogs").is_some() {
            // The logs event's deserializer borrows its base64 data from the input, which a
            // `Value` cannot lend: read it from the JSON text, as the runtime would.
            return serde_json::from_str(&payload.to_string())
                .map(ReceiptsEvent::Logs)
                .map_err(|e| read("CloudWatch Logs", e));
        }
        let from_sqs = payload
            .get("Records")
            .and_then(|records| records.as_array())
            .and_then(|records| records.first())
            .and_then(|record| record.get("eventSource"))
            .is_some_and(|source| source == "aws:sqs");
        if from_sqs {
            return serde_json::from_value(payload)
                .map(ReceiptsEvent::Sqs)
                .map_err(|e| read("SQS", e));
        }
        Err(Error::invalid(
            "event",
            "neither a CloudWatch Logs subscription event nor an SQS event",
        ))
    }
}

/// Handles one invocation of either source; the answer is the SQS batch response for SQS
/// (the messages to redeliver), the logs report otherwise.
pub async fn handle_event<S>(
    receipts: &Receipts<S>,
    payload: serde_json::Value,
) -> Result<serde_json::Value>
where
    S: CustomerStore + DueIndex + MessageStore + SuppressionList + ?Sized,
{
    let answer = match ReceiptsEvent::from_payload(payload)? {
        ReceiptsEvent::Logs(event) => serde_json::to_value(handle_logs(receipts, event).await?),
        ReceiptsEvent::Sqs(event) => {
            serde_json::to_value(handle_sqs(receipts, event).await.response)
        }
    };
    answer.map_err(|e| Error::invalid("answer", e.to_string()))
}
