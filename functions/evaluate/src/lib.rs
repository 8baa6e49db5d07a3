//! The evaluate function: one scheduled event → one engine tick (every minute since the
//! checkpoint), then optionally a sweep: messages whose sender's lease ended are settled, and
//! queued messages whose retry backoff elapsed are sent.
use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Serialize;
use std::collections::BTreeMap;

use chrono::TimeDelta;

use nudge_core::error::Result;
use nudge_core::ports::Store;
use nudge_core::service::{Engine, LeaseReport, Outbox};
use nudge_send::SendBudget;

/// Most queued messages one sweep looks at.
pub const SWEEP_LIMIT: usize = 200;

/// A first attempt still queued this long after it was queued is swept too (its stream
/// record was lost, e.g. after the stream's retries were exhausted).
pub const STRANDED_AFTER_SECONDS: i64 = 300;

/// What one invocation did; returned as the function's result (and so logged by Lambda).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TickSummary {
    /// Minutes fully processed.
    pub minutes: u32,
    /// Decisions by outcome: `send`, `defer`, `skip`.
    pub decisions: BTreeMap<String, u32>,
    /// The tick stopped at its bound before catching up; the next one resumes.
    pub behind: bool,
    /// The retry sweep, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSummary>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SweepSummary {
    /// Messages whose sender's lease ended (a crashed or timed-out send), settled before the
    /// queue is swept: the ones queued again are sent by this sweep.
    #[serde(skip_serializing_if = "LeaseReport::is_empty")]
    pub leases: LeaseReport,
    /// Queued messages tried again (retries whose backoff elapsed, stranded first attempts).
    pub attempted: u32,
    /// Of those, accepted by the provider.
    pub sent: u32,
    /// Sent texts whose receipt did not come within the receipt wait (72 h): now `unknown`.
    #[serde(skip_serializing_if = "is_zero")]
    pub unreceipted: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Handles one scheduled event: the engine tick, then (with `sweep`) the queued messages the
/// stream does not send — retries whose backoff elapsed and stranded first attempts — within
/// the send budget. Fresh first attempts are left to the stream (and its budget).
///
/// The event's own time is only logged: which minutes are due is decided by the engine's
/// clock and checkpoint, so a late or repeated invocation is safe.
#[tracing::instrument(name = "evaluate", skip_all, fields(event_id = ?event.id))]
pub async fn handle_schedule<S: Store + ?Sized>(
    engine: &Engine<S>,
    sweep: Option<(&Outbox<S>, &SendBudget)>,
    event: EventBridgeEvent<serde_json::Value>,
) -> Result<TickSummary> {
    tracing::debug!(id = ?event.id, time = ?event.time, detail_type = %event.detail_type, "schedule");
    let report = engine.tick().await?;
    let mut decisions: BTreeMap<String, u32> = BTreeMap::new();
    for decision in &report.decisions {
        *decisions
            .entry(decision.outcome.kind().to_string())
            .or_default() += 1;
    }
    let sweep = match sweep {
        Some((outbox, budget)) => Some(sweep_retries(outbox, budget).await?),
        None => None,
    };
    let summary = TickSummary {
        minutes: report.minutes,
        decisions,
        behind: report.behind,
        sweep,
    };
    tracing::info!(minutes = summary.minutes, behind = summary.behind, decisions = ?summary.decisions, "tick");
    Ok(summary)
}

async fn sweep_retries<S: Store + ?Sized>(
    outbox: &Outbox<S>,
    budget: &SendBudget,
) -> Result<SweepSummary> {
    let engine = outbox.engine();
    let now = engine.now();
    let stranded_before = now - TimeDelta::seconds(STRANDED_AFTER_SECONDS);
    let mut summary = SweepSummary {
        leases: outbox.reconcile_leases(SWEEP_LIMIT).await?,
        unreceipted: outbox.settle_unreceipted(SWEEP_LIMIT).await?,
        ..SweepSummary::default()
    };
    for message in engine.store().sendable_messages(now, SWEEP_LIMIT).await? {
        if message.attempts == 0 && message.created_at > stranded_before {
            continue; // the stream's
        }
        budget.acquire().await;
        summary.attempted += 1;
        if outbox.send_message(message).await? {
            summary.sent += 1;
        }
    }
    Ok(summary)
}
