//! The inbound function: SNS notifications from AWS End User Messaging two-way numbers → the
//! reply service.
//!
//! SNS invokes the function asynchronously and retries a failed invocation, so only failures
//! that may pass later (the store or the event bus being unavailable) fail the invocation.
//! A notification that can never be handled (not an inbound SMS, a number no tenant owns) is
//! logged with its SNS message id and counted as rejected instead of being retried forever.
use aws_lambda_events::sns::{SnsEvent, SnsRecord};
use serde::Serialize;
use std::collections::BTreeMap;

use nudge_core::error::Result;
use nudge_core::ports::{EventPublisher, Store};
mod end_user_messaging;
pub use end_user_messaging::parse_eum_message;
use nudge_core::service::{Engine, ReplyOutcome};

/// What one invocation did; returned as the function's result (and so logged by Lambda).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InboundSummary {
    /// Replies by action: `opted_out`, `opted_in`, `opt_in_refused`, `help`, `keyword`,
    /// `free_text`, `duplicate`, `rejected`.
    pub actions: BTreeMap<String, u32>,
}

impl InboundSummary {
    fn count(&mut self, action: &str) {
        *self.actions.entry(action.to_string()).or_default() += 1;
    }
}

/// Handles one SNS event (normally one record). Returns an error only when retrying the
/// invocation may succeed; replies already handled are deduplicated on the retry.
#[tracing::instrument(name = "inbound", skip_all, fields(records = event.records.len()))]
pub async fn handle_sns<S: Store + ?Sized>(
    engine: &Engine<S>,
    publisher: &dyn EventPublisher,
    event: SnsEvent,
) -> Result<InboundSummary> {
    let mut summary = InboundSummary::default();
    for record in &event.records {
        let action = handle_record(engine, publisher, record).await?;
        summary.count(action);
    }
    tracing::info!(actions = ?summary.actions, "inbound");
    Ok(summary)
}

async fn handle_record<S: Store + ?Sized>(
    engine: &Engine<S>,
    publisher: &dyn EventPublisher,
    record: &SnsRecord,
) -> Result<&'static str> {
    let sns_id = record.sns.message_id.as_str();
    let sms = match parse_eum_message(&record.sns.message) {
        Ok(sms) => sms,
        Err(err) => {
            // The error names the field; the message itself may hold a phone number and is
            // only logged by size.
            tracing::error!(sns_message_id = sns_id, error = %err,
                bytes = record.sns.message.len(), "inbound notification rejected");
            return Ok("rejected");
        }
    };
    let Some(tenant) = engine.tenant_for_number(&sms.to) else {
        tracing::error!(
            sns_message_id = sns_id,
            destination = %sms.to,
            inbound_message_id = %sms.provider_id,
            "inbound SMS rejected: no rulebook lists this number under `numbers`"
        );
        return Ok("rejected");
    };
    let report = match engine.handle_reply(&tenant, sms, publisher).await {
        Ok(report) => report,
        Err(err) if err.is_retryable() => return Err(err),
        Err(err) => {
            tracing::error!(sns_message_id = sns_id, tenant = %tenant, error = %err,
                "inbound SMS rejected");
            return Ok("rejected");
        }
    };
    Ok(match report.outcome {
        ReplyOutcome::Duplicate => "duplicate",
        ReplyOutcome::Rejected { .. } => "rejected",
        ReplyOutcome::OptedOut { .. } => "opted_out",
        ReplyOutcome::OptedIn { .. } => "opted_in",
        ReplyOutcome::OptInRefused { .. } => "opt_in_refused",
        ReplyOutcome::Help { .. } => "help",
        ReplyOutcome::Keyword { .. } => "keyword",
        ReplyOutcome::FreeText => "free_text",
    })
}
