//! Local adapters: an SMS sender that writes texts to a stream instead of a carrier, and an
//! event publisher that writes events to a stream. Used by `nudge dev` and `nudge simulate`.
use async_trait::async_trait;
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use nudge_core::domain::{Category, PhoneNumber};
use nudge_core::error::{Error, Result};
use nudge_core::policy::count_segments;
use nudge_core::ports::{EventPublisher, OutboundEvent, Sent, SmsSender};

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

/// Writes every text to a stream and accepts it, numbering provider ids `console-RUN-N`
/// (`RUN` tells this process's run from earlier ones; see [`run_id`]).
pub struct ConsoleSender {
    out: Mutex<Box<dyn Write + Send>>,
    format: Format,
    sent: AtomicU64,
}

impl ConsoleSender {
    pub fn new(out: Box<dyn Write + Send>, format: Format) -> Self {
        ConsoleSender {
            out: Mutex::new(out),
            format,
            sent: AtomicU64::new(0),
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
    async fn send(&self, to: &PhoneNumber, text: &str, category: Category) -> Result<Sent> {
        let n = self.sent.fetch_add(1, Ordering::Relaxed) + 1;
        let provider_id = format!("console-{}-{n}", run_id());
        let segments = count_segments(text).segments;
        let line = match self.format {
            Format::Text => format!("SMS {to} [{category}, {segments} segment(s)] {text}"),
            Format::JsonLines => json!({
                "provider_id": provider_id, "to": to.as_str(), "category": category,
                "segments": segments, "text": text,
            })
            .to_string(),
        };
        let mut out = self
            .out
            .lock()
            .map_err(|_| Error::store("console sender poisoned"))?;
        writeln!(out, "{line}").map_err(|e| Error::Provider {
            retryable: true,
            message: format!("writing the console outbox failed: {e}"),
            source: Some(Box::new(e)),
        })?;
        Ok(Sent { provider_id })
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
