//! The store, as one small trait per role. Each store adapter (`nudge-sqlite`,
//! `nudge-dynamodb`) implements every role, each in the file that owns that data; the store
//! conformance suite checks each role on each adapter.
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::domain::{
    ApiKey, Customer, CustomerId, Event, EventId, Message, MessageId, MessageStatus, PhoneNumber,
    TenantId, Timer,
};
use crate::error::Result;

/// Counters kept per tenant, day and rule (`sent`, `delivered`, `skipped_cap`, …).
pub type Counters = BTreeMap<String, i64>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventOutcome {
    Recorded,
    /// The customer has an event with this id and type already; nothing changed.
    Duplicate,
    /// The customer has an event with this id of another type (`event_type`); nothing
    /// changed. An id names one event: reusing it for another is the caller's mistake.
    IdReused {
        event_type: String,
    },
    /// The customer changed since it was read; re-read and try again.
    Conflict,
}

/// Everything that must become true together when an event is ingested: the event is stored
/// once (by id), the customer's activity is updated, the timers it arms are written and the
/// counters it moves (a conversion, on the day of the text it converts) are added.
#[derive(Clone, Debug)]
pub struct EventCommit {
    pub event: Event,
    pub customer: Customer,
    pub expected_version: u64,
    pub timers: Vec<Timer>,
    pub stats: Vec<StatsRow>,
}

/// Everything that must become true together when a text is decided "send".
#[derive(Clone, Debug)]
pub struct SendCommit {
    pub message: Message,
    /// The customer with the send added to its ledger; written only if the stored version is
    /// still `expected_version` (so two concurrent decisions cannot both pass a cap).
    pub customer: Customer,
    pub expected_version: u64,
    /// The timer this decision consumes (removed in the same transaction).
    pub timer: Option<Timer>,
    pub stats: Counters,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// The dedupe key exists: this occurrence was already decided "send".
    Duplicate,
    /// The customer changed since it was read; re-read and decide again.
    Conflict,
}

/// The version of a message a writer read: its status and its attempt count. A write
/// conditioned on it fails once anyone else moved the message — including a sender whose
/// lease was taken back, because reclaiming the message counts one more attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageState {
    pub status: MessageStatus,
    pub attempts: u32,
}

impl MessageState {
    pub fn of(message: &Message) -> Self {
        MessageState {
            status: message.status,
            attempts: message.attempts,
        }
    }
}

/// What claiming a queued message for sending found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The message is now `sending`, with one more attempt and the claimer's lease: send it.
    Claimed,
    /// The number is on the suppression list; nothing was changed.
    Suppressed,
    /// The message is not in the state the claimer read (sent, claimed by another sender,
    /// requeued since): nothing was changed.
    Lost,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRow {
    pub day: NaiveDate,
    pub rule: String,
    pub counters: Counters,
}

/// How often one free-text reply (normalised) was received in a period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTextCount {
    pub text: String,
    pub count: i64,
}

/// Longest free-text reply kept for reports (characters); longer texts are cut to this.
pub const MAX_REPLY_TEXT_CHARS: usize = 160;

/// A free-text reply as stored for reports: cut to [`MAX_REPLY_TEXT_CHARS`] characters (never
/// inside a character) and trimmed.
pub fn reply_text_key(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(MAX_REPLY_TEXT_CHARS)
        .map_or(text.len(), |(i, _)| i);
    text[..end].trim()
}

/// Customer profiles: read, written under optimistic concurrency, deleted, found by phone.
#[async_trait]
pub trait CustomerStore: Send + Sync {
    async fn get_customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<Option<Customer>>;
    /// Several customers at once (strongly consistent, in any order; the missing ones are
    /// left out, a repeated id is returned once). The evaluate tick reads the customers of a
    /// due minute this way.
    async fn get_customers(&self, ids: &[(TenantId, CustomerId)]) -> Result<Vec<Customer>>;
    /// Creates the customer (`expected_version` None: it must not exist yet) or replaces it if the
    /// stored version equals `expected_version`; otherwise `Error::Conflict`. Returns the new
    /// version (stored version + 1).
    async fn put_customer(&self, customer: &Customer, expected_version: Option<u64>)
        -> Result<u64>;
    /// Deletes the profile, its events, timers and messages (queued texts are never sent
    /// after this returns) with their dedupe keys; true when the profile existed. Suppression
    /// entries and counters stay (they hold no profile data).
    async fn delete_customer(&self, tenant: &TenantId, id: &CustomerId) -> Result<bool>;
    async fn find_customer_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<Customer>>;
}

/// The event log: each event stored once by id, together with the customer and timers it
/// changes. Event ids are the customer's own: another customer (of any region) may use the
/// same id for an event of its own.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Applies an [`EventCommit`] atomically, once per customer and `event_id`: a repeated
    /// id is `Duplicate` (same type) or `IdReused` (another type) and changes nothing; a
    /// stale customer version is `Conflict`.
    async fn record_event(&self, commit: &EventCommit) -> Result<EventOutcome>;
    /// The type of the customer's event with this id, if one is recorded (None also for an
    /// id only an earlier release recorded, whose type it did not keep).
    async fn recorded_event_type(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        id: &EventId,
    ) -> Result<Option<String>>;
    async fn customer_events(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<Event>>;
}

/// The due index: timers by the minute they are due, and the scheduler's checkpoint.
#[async_trait]
pub trait DueIndex: Send + Sync {
    async fn customer_timers(&self, tenant: &TenantId, customer: &CustomerId)
        -> Result<Vec<Timer>>;
    /// Inserts or moves timers (identity: tenant, customer, rule, occurrence).
    async fn put_timers(&self, timers: &[Timer]) -> Result<()>;
    async fn delete_timers(&self, timers: &[Timer]) -> Result<()>;
    /// Moves one timer to a later due minute (a deferral).
    async fn reschedule_timer(&self, timer: &Timer, due: DateTime<Utc>) -> Result<()>;
    /// Timers due in the whole minute starting at `minute` (UTC, seconds zero).
    async fn due_timers(&self, minute: DateTime<Utc>) -> Result<Vec<Timer>>;
    /// The last minute whose timers were all processed.
    async fn checkpoint(&self) -> Result<Option<DateTime<Utc>>>;
    /// Moves the checkpoint forward only (an older value is ignored).
    async fn set_checkpoint(&self, minute: DateTime<Utc>) -> Result<()>;
}

/// Messages and the outbox: decisions written with the customer's ledger and their counters, then claimed and finished by the sender.
#[async_trait]
pub trait MessageStore: Send + Sync {
    async fn commit_send(&self, commit: &SendCommit) -> Result<CommitOutcome>;
    /// Queues a message that is not subject to caps (reply confirmations and auto-answers):
    /// message + dedupe key + stats in one transaction; `Duplicate` when the key exists.
    async fn queue_message(&self, message: &Message, stats: &Counters) -> Result<CommitOutcome>;
    /// Records a decision that produced no text to send (skipped), with its stats.
    async fn record_skip(
        &self,
        message: &Message,
        timer: Option<&Timer>,
        stats: &Counters,
    ) -> Result<()>;
    async fn get_message(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<Message>>;
    async fn customer_messages(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        limit: usize,
    ) -> Result<Vec<Message>>;
    /// Queued messages whose next attempt is due, the earliest first: what `nudge dev` sends every
    /// second, and what the evaluate function's sweep re-sends (retries whose backoff elapsed,
    /// first attempts whose stream record was lost); fresh texts on AWS come from the stream.
    async fn sendable_messages(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Message>>;
    /// Messages held by a sender (`sending`, `dispatched`) whose lease ended by `now`, the
    /// earliest lease first, at most `limit`: what the sweep settles after a sender crashed
    /// or timed out. A message claimed before leases existed counts as leased until its
    /// `updated_at`.
    async fn expired_leases(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Message>>;
    /// Messages still `sent` (no receipt settled them) that were sent at or before
    /// `sent_by`, the earliest first, at most `limit`: what the sweep gives up waiting for
    /// receipts on.
    async fn unreceipted_messages(
        &self,
        sent_by: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Message>>;
    /// Replaces the message with `message` only if it is still in state `from` (status and
    /// attempts). Returns false when someone else moved it first.
    async fn transition_message(&self, message: &Message, from: MessageState) -> Result<bool>;
    /// Claims a queued message for sending, in one atomic step: `claimed` (status `sending`,
    /// `attempts` one more than read) replaces the stored message only if that is still
    /// `queued` with `claimed.attempts - 1` attempts (exactly the version the caller read, so
    /// a stale copy cannot skip a retry's backoff) and, unless the message ignores
    /// suppression, only if its number is not suppressed.
    async fn claim_message(&self, claimed: &Message) -> Result<Claim>;
    /// Records how a message ended: moves it from state `from` to its current status and
    /// fields and adds `stats` for its rule on the day [`Message::counted_on`] gives,
    /// together. A message recorded as `sent` with a provider and provider id also becomes
    /// findable by them ([`MessageStore::message_by_provider_id`]) for
    /// [`PROVIDER_ID_KEPT_DAYS`]. Returns false (and writes nothing) when it was no longer
    /// in `from`.
    async fn finish_message(
        &self,
        message: &Message,
        from: MessageState,
        stats: &Counters,
    ) -> Result<bool>;
    /// The message a provider accepted under `provider_id` (what its receipts name), while
    /// the lookup written with its `sent` result is kept; None otherwise.
    async fn message_by_provider_id(
        &self,
        provider: &str,
        provider_id: &str,
    ) -> Result<Option<Message>>;
}

/// How long a sent text can be found by its provider id: receipts come within 72 hours
/// (SNS's documented worst case), so a week leaves room for a delayed one.
pub const PROVIDER_ID_KEPT_DAYS: i64 = 7;

/// The suppression list: numbers that are never texted, per tenant and phone number (it survives customer deletion).
#[async_trait]
pub trait SuppressionList: Send + Sync {
    async fn is_suppressed(&self, tenant: &TenantId, phone: &PhoneNumber) -> Result<bool>;
    /// Suppresses the number (`source`: where the request came from, e.g. `sms`). Returns
    /// true when this call suppressed it — or an earlier call with the same `reference` (the
    /// inbound message that asked), so a redelivered request finishes what it started — and
    /// false when the number was already suppressed otherwise.
    async fn suppress(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
        at: DateTime<Utc>,
        source: &str,
        reference: Option<&str>,
    ) -> Result<bool>;
    /// Returns false when the number was not suppressed.
    async fn unsuppress(&self, tenant: &TenantId, phone: &PhoneNumber) -> Result<bool>;
}

/// Counters per tenant, day and rule, and the free-text reply counts the reports read.
#[async_trait]
pub trait CounterStore: Send + Sync {
    async fn add_stats(
        &self,
        tenant: &TenantId,
        day: NaiveDate,
        rule: &str,
        counters: &Counters,
    ) -> Result<()>;
    async fn stats(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<StatsRow>>;

    // Free-text replies.
    /// Counts one free-text reply of `day`. The text is stored as [`reply_text_key`] gives it;
    /// an empty text is not counted.
    async fn add_reply_text(&self, tenant: &TenantId, day: NaiveDate, text: &str) -> Result<()>;
    /// The most frequent free-text replies from `from` to `to` (inclusive), most frequent
    /// first, equal counts in text order; at most `limit`.
    async fn top_reply_texts(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
        limit: usize,
    ) -> Result<Vec<ReplyTextCount>>;
}

/// API keys, found by id (only the secret's hash is stored).
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// Creates or replaces a key (revocation is a replace with `revoked_at` set).
    async fn put_api_key(&self, key: &ApiKey) -> Result<()>;
    async fn get_api_key(&self, id: &str) -> Result<Option<ApiKey>>;
}

/// The inbound log: provider message ids of replies already handled, so a redelivery has no second effect.
#[async_trait]
pub trait InboundLog: Send + Sync {
    /// Records a provider message id; false when it was seen before.
    async fn record_inbound(
        &self,
        tenant: &TenantId,
        provider_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    /// Forgets an inbound message id recorded by `record_inbound`, so that a redelivery of
    /// a reply whose handling failed part-way is handled again instead of being a duplicate.
    async fn forget_inbound(&self, tenant: &TenantId, provider_id: &str) -> Result<()>;
}

/// The signature log: signatures of signed requests already accepted, each kept until its
/// timestamp is too old to be accepted anyway, so a captured request cannot be replayed.
#[async_trait]
pub trait SignatureLog: Send + Sync {
    /// Records a request's signature, accepted until `until`; false when it was recorded
    /// before and is still within its `until` at `now` (a replay). An entry whose `until`
    /// has passed counts as absent (it may still be stored: expiry is lazy).
    async fn record_signature(
        &self,
        tenant: &TenantId,
        signature: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool>;
}

/// Every store role at once, for the callers that truly need all of them (wiring, the
/// conformance suite, the HTTP API's state); the services ask only for the roles they use.
/// Implemented for every type that implements all the roles.
pub trait Store:
    CustomerStore
    + EventLog
    + DueIndex
    + MessageStore
    + SuppressionList
    + CounterStore
    + ApiKeyStore
    + InboundLog
    + SignatureLog
{
}

impl<T> Store for T where
    T: CustomerStore
        + EventLog
        + DueIndex
        + MessageStore
        + SuppressionList
        + CounterStore
        + ApiKeyStore
        + InboundLog
        + SignatureLog
        + ?Sized
{
}
