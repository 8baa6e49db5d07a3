//! The receipts function: SNS SMS delivery-status log records, delivered by the CloudWatch
//! Logs subscription filters the stack puts on SNS's two delivery log groups, recorded on
//! their messages (`sent` → `delivered` | `undelivered`).
//!
//! CloudWatch Logs invokes the function asynchronously: a failed invocation is retried by
//! Lambda. So a store failure fails the invocation (recording is idempotent: a receipt
//! recorded before the failure finds its message settled on the retry), while a record
//! that can never be read is logged and skipped, not retried for ever.
use aws_lambda_events::cloudwatch_logs::LogsEvent;
use serde::Serialize;

use nudge_core::error::Result;
use nudge_core::ports::{CustomerStore, DueIndex, MessageStore, SuppressionList};
use nudge_core::service::{ReceiptReport, Receipts};
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
