//! Fast-forwarding the real engine over a simulated clock: customers are loaded at the start,
//! events are ingested at their `occurred_at`, and every minute the scheduler ticks and the
//! outbox sends. `nudge simulate` and `nudge rules plan` run on this.
use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::console::{ConsolePublisher, ConsoleSender, ReceiptPlan};
use crate::conversion::ConversionModel;
use nudge_core::clock::ManualClock;
use nudge_core::domain::{CustomerId, DeliveryOutcome, TenantId};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{Clock, CustomerStore};
use nudge_core::rulebook::Rulebook;
use nudge_core::service::{
    CustomerInput, DecisionRecord, Engine, EventInput, InboundSms, Outbox, ReceiptApplied,
    ReceiptReport, Receipts, ReplyReport, SendReport,
};
use nudge_sqlite::SqliteStore;

/// Messages the outbox sends per simulated minute at most (a realistic sender budget).
const SENDS_PER_MINUTE: usize = 100_000;

pub struct Simulation {
    engine: Arc<Engine<SqliteStore>>,
    clock: Arc<ManualClock>,
    outbox: Outbox<SqliteStore>,
    sender: Arc<ConsoleSender>,
    receipts: Receipts<SqliteStore>,
    publisher: ConsolePublisher,
    tenant: TenantId,
    conversions: Vec<ConversionModel>,
}

#[derive(Debug, Default)]
pub struct SimulationResult {
    /// Every decision, in time order.
    pub decisions: Vec<DecisionRecord>,
    pub sends: SendReport,
    /// Texts the (console) provider accepted.
    pub accepted_by_provider: u64,
    /// What the texts' delivery receipts did.
    pub receipts: ReceiptReport,
    /// Undelivered texts per reason code.
    pub undelivered: BTreeMap<String, u64>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// What each simulated reply (`sms.reply` events) did, with its customer.
    pub replies: Vec<ReplyReport>,
    /// Goal events the conversion models made (and ingested, when due inside the run).
    pub goal_events: u64,
}

/// Event type that, in a simulation's events file, stands for an SMS reply from the customer
/// (`properties.text`), handled by the reply service instead of being ingested.
pub const REPLY_EVENT: &str = "sms.reply";

impl Simulation {
    async fn reply(&self, event: EventInput) -> Result<ReplyReport> {
        let id = CustomerId::parse(event.customer_id.clone())?;
        let customer = self
            .engine
            .store()
            .get_customer(&self.tenant, &id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("customer {id}")))?;
        let text = event
            .properties
            .get("text")
            .and_then(|t| t.as_str())
            .unwrap_or_default();
        let sms = InboundSms {
            from: customer.phone.to_string(),
            to: "simulation".into(),
            body: text.to_string(),
            provider_id: event.event_id.clone(),
            in_reply_to: None,
        };
        self.engine
            .handle_reply(&self.tenant, sms, &self.publisher)
            .await
    }

    /// A simulation on a fresh in-memory store starting at `start` (rounded down to a minute),
    /// every text reported delivered.
    pub fn new(rulebook: Rulebook, start: DateTime<Utc>) -> Result<Self> {
        Simulation::with_receipts(rulebook, start, ReceiptPlan::default())
    }

    /// A simulation whose texts' receipts follow `plan`.
    pub fn with_receipts(
        rulebook: Rulebook,
        start: DateTime<Utc>,
        plan: ReceiptPlan,
    ) -> Result<Self> {
        let start = start
            .duration_trunc(TimeDelta::minutes(1))
            .map_err(|e| Error::invalid("start", e.to_string()))?;
        let tenant = rulebook.tenant.clone();
        let clock = Arc::new(ManualClock::new(start));
        let store = Arc::new(SqliteStore::in_memory()?);
        let engine = Arc::new(Engine::new(store, clock.clone(), vec![rulebook]));
        let sender = Arc::new(ConsoleSender::discard().with_receipts(plan, clock.clone()));
        let outbox = Outbox::new(
            engine.clone(),
            sender.clone(),
            Arc::new(ConsolePublisher::discard()),
        );
        let receipts = Receipts::new(engine.clone(), Arc::new(ConsolePublisher::discard()));
        Ok(Simulation {
            engine,
            clock,
            outbox,
            sender,
            receipts,
            publisher: ConsolePublisher::discard(),
            tenant,
            conversions: Vec::new(),
        })
    }

    /// Customers convert after the texts and holdout decisions of these rules.
    pub fn with_conversions(mut self, conversions: Vec<ConversionModel>) -> Self {
        self.conversions = conversions;
        self
    }

    pub fn engine(&self) -> &Arc<Engine<SqliteStore>> {
        &self.engine
    }

    /// Loads customers at the current simulated instant.
    pub async fn load_customers(&self, customers: Vec<CustomerInput>) -> Result<()> {
        for customer in customers {
            self.engine.upsert_customer(&self.tenant, customer).await?;
        }
        Ok(())
    }

    /// Runs `days` of simulated time. `events` must be sorted by `occurred_at`; each is
    /// ingested in the minute it occurred. `progress` is called once per simulated hour.
    pub async fn run(
        &self,
        events: Vec<EventInput>,
        days: u32,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<SimulationResult> {
        let start = self.clock.now();
        let minutes = u64::from(days) * 24 * 60;
        let mut result = SimulationResult {
            start,
            end: start,
            ..Default::default()
        };
        let mut pending = events.into_iter().peekable();
        // Goal events the conversion models made, by the instant they occur.
        let mut goal_events: BTreeMap<(DateTime<Utc>, u64), EventInput> = BTreeMap::new();
        for step in 0..=minutes {
            let now = start + TimeDelta::minutes(step as i64);
            let next = now + TimeDelta::minutes(1);
            self.clock.set(now);
            let decided = result.decisions.len();
            while let Some(event) = pending.next_if(|e| e.occurred_at.is_none_or(|t| t < next)) {
                if event.event_type == REPLY_EVENT {
                    result.replies.push(self.reply(event).await?);
                    continue;
                }
                let report = self.engine.ingest_event(&self.tenant, event).await?;
                result.decisions.extend(report.decisions);
            }
            while let Some(entry) = goal_events.first_entry() {
                if entry.key().0 >= next {
                    break;
                }
                let report = self
                    .engine
                    .ingest_event(&self.tenant, entry.remove())
                    .await?;
                result.decisions.extend(report.decisions);
            }
            let tick = self.engine.tick().await?;
            result.decisions.extend(tick.decisions);
            for decision in &result.decisions[decided..] {
                for event in self
                    .conversions
                    .iter()
                    .filter_map(|m| m.conversion(decision))
                {
                    if let Some(at) = event.occurred_at {
                        goal_events.insert((at, result.goal_events), event);
                        result.goal_events += 1;
                    }
                }
            }
            let sent = self.outbox.send_due(SENDS_PER_MINUTE).await?;
            result.sends.sent += sent.sent;
            result.sends.retried += sent.retried;
            result.sends.failed += sent.failed;
            result.sends.suppressed += sent.suppressed;
            result.sends.lost_claims += sent.lost_claims;
            for receipt in self.sender.take_receipts()? {
                let applied = self.receipts.record(&receipt).await?;
                result.receipts.add(applied);
                if applied != ReceiptApplied::Recorded {
                    continue;
                }
                if let DeliveryOutcome::Undelivered(reason) = receipt.outcome {
                    *result
                        .undelivered
                        .entry(reason.code().to_string())
                        .or_default() += 1;
                }
            }
            if step % 60 == 0 {
                progress(step, minutes);
            }
            result.end = now;
        }
        result.accepted_by_provider = self.sender.sent_count();
        Ok(result)
    }
}
