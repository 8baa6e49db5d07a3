//! Local adapters: an SMS sender that writes texts to a stream instead of a carrier, and an
//! event publisher that writes events to a stream. Used by `nudge dev` and `nudge simulate`.
use async_trait::async_trait;
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use std::collections::HashSet;
use std::sync::Arc;

use nudge_core::domain::{
    DeliveryOutcome, DeliveryReport, PhoneNumber, Receipt, UndeliveredReason,
};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{
    Clock, EventPublisher, OutboundEvent, OutgoingText, SendError, Sent, SmsSender,
};

/// The provider name of texts the console sender accepted.
pub const PROVIDER: &str = "console";

/// Which console texts are reported delivered: all by default; `fail_rate` of them (chosen
/// by a hash of the message id, so a run is reproducible) as unreachable; every text to one
/// of `fail_numbers` as an invalid number.
#[derive(Clone, Debug, Default)]
pub struct ReceiptPlan {
    pub fail_rate: f64,
    pub fail_numbers: HashSet<PhoneNumber>,
}

impl ReceiptPlan {
    pub fn outcome(&self, text: &OutgoingText<'_>) -> DeliveryOutcome {
        if self.fail_numbers.contains(text.to) {
            return DeliveryOutcome::Undelivered(UndeliveredReason::InvalidNumber);
        }
        if unit_interval(text.message_id.as_str()) < self.fail_rate {
            return DeliveryOutcome::Undelivered(UndeliveredReason::Unreachable);
        }
        DeliveryOutcome::Delivered
    }
}

/// A stable position of `key` in [0, 1): FNV-1a, whose low bits are mixed well enough for
/// picking a share of ids.
fn unit_interval(key: &str) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // A final mix (from SplitMix64) so ids that differ in their last characters spread out.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// How the console adapters write each record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One readable line per record.
    Text,
    /// One JSON object per line (machine-readable, e.g. an `outbox.jsonl` file).
    JsonLines,
}

/// This process's run of the console sender: when it started (ms since the epoch) and its
/// process id, in hex. Replies find their text by provider id, so ids must not repeat after
/// a restart of `nudge dev` on the same database.
fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        format!("{started:x}{:x}", std::process::id())
    })
}

/// How a console sender makes receipts: its plan, its clock, and the receipts not taken yet.
struct Receipting {
    plan: ReceiptPlan,
    clock: Arc<dyn Clock>,
    pending: Mutex<Vec<Receipt>>,
}

/// Writes every text to a stream and accepts it, numbering provider ids `console-RUN-N`
/// (`RUN` tells this process's run from earlier ones; see [`run_id`]).
pub struct ConsoleSender {
    out: Mutex<Box<dyn Write + Send>>,
    format: Format,
    sent: AtomicU64,
    /// When set, every accepted text gets a receipt, collected until [`Self::take_receipts`].
    receipts: Option<Receipting>,
}

impl ConsoleSender {
    pub fn new(out: Box<dyn Write + Send>, format: Format) -> Self {
        ConsoleSender {
            out: Mutex::new(out),
            format,
            sent: AtomicU64::new(0),
            receipts: None,
        }
    }

    /// Also produces a delivery receipt for every text, as `plan` says, dated by `clock`.
    pub fn with_receipts(mut self, plan: ReceiptPlan, clock: Arc<dyn Clock>) -> Self {
        self.receipts = Some(Receipting {
            plan,
            clock,
            pending: Mutex::new(Vec::new()),
        });
        self
    }

    /// The receipts of the texts accepted since the last call, oldest first (none when the
    /// sender makes no receipts).
    pub fn take_receipts(&self) -> Result<Vec<Receipt>> {
        match &self.receipts {
            Some(receipting) => {
                let mut pending = receipting
                    .pending
                    .lock()
                    .map_err(|_| Error::store("console receipts poisoned"))?;
                Ok(std::mem::take(&mut *pending))
            }
            None => Ok(Vec::new()),
        }
    }

    pub fn stdout() -> Self {
        ConsoleSender::new(Box::new(std::io::stdout()), Format::Text)
    }

    /// Accepts texts without writing them anywhere (fast simulations).
    pub fn discard() -> Self {
        ConsoleSender::new(Box::new(std::io::sink()), Format::JsonLines)
    }

    pub fn sent_count(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl SmsSender for ConsoleSender {
    async fn send(&self, text: &OutgoingText<'_>) -> std::result::Result<Sent, SendError> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let provider_id = format!("console-{}-{n}", run_id());
        let (to, category, segments) = (text.to, text.category, text.segments);
        let from = text.origination.map(|o| o.value().to_string());
        let line = match self.format {
            Format::Text => {
                let from = from.map(|f| format!(" from {f}")).unwrap_or_default();
                format!(
                    "SMS {to}{from} [{category}, {segments} segment(s)] {}",
                    text.text
                )
            }
            Format::JsonLines => json!({
                "provider_id": provider_id, "to": to.as_str(), "from": from,
                "category": category, "segments": segments, "text": text.text,
            })
            .to_string(),
        };
        {
            let mut out = self
                .out
                .lock()
                .map_err(|_| Error::store("console sender poisoned"))?;
            writeln!(out, "{line}").map_err(|e| SendError::Retryable {
                message: format!("writing the console outbox failed: {e}"),
                source: Some(Box::new(e)),
            })?;
        }
        if let Some(receipting) = &self.receipts {
            let outcome = receipting.plan.outcome(text);
            let provider_status = match outcome {
                DeliveryOutcome::Delivered => "delivered".to_string(),
                DeliveryOutcome::Undelivered(reason) => format!("undelivered: {reason}"),
            };
            let receipt = Receipt {
                provider: PROVIDER.into(),
                provider_id: provider_id.clone(),
                outcome,
                report: DeliveryReport {
                    at: receipting.clock.now(),
                    provider_status,
                    price_usd: None,
                    parts: Some(segments),
                    carrier: None,
                },
            };
            receipting
                .pending
                .lock()
                .map_err(|_| Error::store("console receipts poisoned"))?
                .push(receipt);
        }
        Ok(Sent {
            provider: PROVIDER,
            provider_id,
        })
    }
}

/// Writes business events to a stream (or only counts them).
pub struct ConsolePublisher {
    out: Mutex<Box<dyn Write + Send>>,
    published: AtomicU64,
}

impl ConsolePublisher {
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        ConsolePublisher {
            out: Mutex::new(out),
            published: AtomicU64::new(0),
        }
    }

    pub fn discard() -> Self {
        ConsolePublisher::new(Box::new(std::io::sink()))
    }

    pub fn published_count(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl EventPublisher for ConsolePublisher {
    async fn publish(&self, events: &[OutboundEvent]) -> Result<()> {
        let mut out = self
            .out
            .lock()
            .map_err(|_| Error::store("console publisher poisoned"))?;
        for event in events {
            let line = serde_json::to_string(event).map_err(Error::store)?;
            writeln!(out, "{line}").map_err(|e| Error::Provider {
                retryable: true,
                message: format!("writing the event log failed: {e}"),
                source: Some(Box::new(e)),
            })?;
        }
        self.published
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}
