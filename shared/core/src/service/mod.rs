//! The use cases, generic over the ports: ingest (customers, events, all-or-nothing batches of
//! them), evaluate (the tick that decides due timers), send (the outbox). Everything reads
//! time from the injected clock. What they decide, count and announce is typed: [`Outcome`]
//! (with the policy reasons), [`Counter`] and [`DetailType`].
mod batch;
pub mod counter;
mod decide;
mod evaluate;
mod goals;
mod hygiene;
mod ingest;
pub mod kpis;
pub mod lift;
mod outbound;
mod receipt;
mod reply;
pub mod report;
mod retry;
mod send;

use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

use crate::domain::{CustomerId, PhoneNumber, RuleId, TenantId};
use crate::error::{Error, Result};
use crate::ports::{Clock, ProviderOptOuts};
use crate::rulebook::Rulebook;

pub use batch::{
    check_customers, check_events, Batch, CustomerWritten, ItemError, ItemFault, Refusal,
};
pub use counter::Counter;
pub use decide::{decide, message_id, Outcome};
pub use evaluate::TickReport;
pub use goals::Conversion;
pub(crate) use ingest::validate_event_input;
pub use ingest::{
    event_id_reused, validate_customer_input, CustomerInput, EventInput, IngestReport,
};
pub use kpis::{DayKpis, KpiReport, Kpis, RuleKpis};
pub use lift::{Interval, Lift, Verdict};
pub use outbound::DetailType;
pub use receipt::{ReceiptApplied, ReceiptReport, Receipts};
pub use reply::{
    check_provider_id, classifier_for, InboundSms, RejectReason, ReplyOutcome, ReplyReport,
};
pub use report::{DeliveryReport, DeliverySummary, RepliesReport, RuleDelivery, RuleReplies};
pub use send::{LeaseReport, Outbox, SendReport};

/// Tunables of the engine; the defaults suit production.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Most minutes one tick processes when catching up (the next tick resumes).
    pub max_minutes_per_tick: u32,
    /// Attempts before a retryable send failure becomes `failed`.
    pub max_send_attempts: u32,
    /// First retry delay; doubles per attempt.
    pub retry_base_seconds: i64,
    /// How long a sender holds a message it claimed. Longer than any send can take (the
    /// functions time out after 60 s), so a live sender never loses its message; once it
    /// ends, the sweep settles what a crashed or timed-out sender left.
    pub send_lease_seconds: i64,
    /// How long a text waits when the provider says the account's spend limit is reached.
    pub spend_limit_pause_seconds: i64,
    /// How long after sending the sweep waits for a text's receipt before recording it
    /// `unknown` (`no_receipt`); SNS documents receipts within 72 hours. 0 never stops
    /// waiting.
    pub receipt_wait_hours: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_minutes_per_tick: 24 * 60,
            max_send_attempts: 5,
            retry_base_seconds: 30,
            send_lease_seconds: 300,
            spend_limit_pause_seconds: 3_600,
            receipt_wait_hours: 72,
        }
    }
}

/// One decision about one rule occurrence for one customer, as logged and reported.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DecisionRecord {
    pub tenant: TenantId,
    pub customer_id: CustomerId,
    pub rule: RuleId,
    pub occurrence: String,
    pub due: DateTime<Utc>,
    pub decided_at: DateTime<Utc>,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The engine: a store, a clock and the tenants' rulebooks, and the provider's opt-out list
/// where the provider keeps one.
pub struct Engine<S: ?Sized> {
    store: Arc<S>,
    clock: Arc<dyn Clock>,
    rulebooks: HashMap<TenantId, Arc<Rulebook>>,
    config: EngineConfig,
    provider_opt_outs: Option<Arc<dyn ProviderOptOuts>>,
}

impl<S: ?Sized> Engine<S> {
    pub fn new(store: Arc<S>, clock: Arc<dyn Clock>, rulebooks: Vec<Rulebook>) -> Self {
        let rulebooks = rulebooks
            .into_iter()
            .map(|r| (r.tenant.clone(), Arc::new(r)))
            .collect();
        Engine {
            store,
            clock,
            rulebooks,
            config: EngineConfig::default(),
            provider_opt_outs: None,
        }
    }

    /// The provider's opt-out list that an opt-in reply takes the number off (SNS's account
    /// list). Without one, opting in concerns nudge's own list only.
    pub fn with_provider_opt_outs(mut self, opt_outs: Arc<dyn ProviderOptOuts>) -> Self {
        self.provider_opt_outs = Some(opt_outs);
        self
    }

    pub fn with_config(mut self, config: EngineConfig) -> Self {
        self.config = config;
        self
    }

    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The tenant an inbound text to `number` belongs to: the rulebook listing the number in
    /// `numbers`, or the only rulebook of a single-tenant deployment.
    pub fn tenant_for_number(&self, number: &str) -> Option<TenantId> {
        let owner = PhoneNumber::parse(number, None).ok().and_then(|phone| {
            self.rulebooks
                .values()
                .find(|book| book.numbers.contains(&phone))
                .map(|b| b.tenant.clone())
        });
        owner.or_else(|| match self.rulebooks.len() {
            1 => self.rulebooks.keys().next().cloned(),
            _ => None,
        })
    }

    /// Every tenant's rulebook, in no particular order.
    pub fn rulebooks(&self) -> impl Iterator<Item = &Arc<Rulebook>> {
        self.rulebooks.values()
    }

    pub fn rulebook(&self, tenant: &TenantId) -> Result<&Arc<Rulebook>> {
        self.rulebooks
            .get(tenant)
            .ok_or_else(|| Error::NotFound(format!("tenant {tenant} has no rulebook")))
    }
}
