//! The production store: one DynamoDB table (single-table design), the same semantics as the
//! SQLite store (the shared conformance suite runs against both). No Scan anywhere: every read
//! is a GetItem, a BatchGetItem or a Query on a known partition.
//!
//! # Table (what `infra/template.yaml` must declare — [`create_table`] creates the same; both
//! are checked against `table::definition`)
//!
//! - Billing PAY_PER_REQUEST; key `PK` (S, hash) + `SK` (S, range).
//! - `GSI1`: `GSI1PK` (S) + `GSI1SK` (S), projection ALL — phone → customer.
//! - `GSI2`: `GSI2PK` (S) + `GSI2SK` (S), projection ALL — the sparse outbox of queued messages, the
//!   messages held by a sender (by lease end) and the sent ones awaiting a receipt (by send time).
//! - TTL on `expires_at` (N, epoch seconds): events and their ids (400 days), inbound ids (30 days),
//!   free-text reply counts (400 days after their day), accepted request signatures (when their
//!   timestamp is out of tolerance).
//! - Stream NEW_IMAGE. The send function's filter: `kind = message AND status = queued` on
//!   INSERT and MODIFY; it reads each image with [`stream::read_new_image`], through the same
//!   item mapping the store reads messages with.
//!
//! # Items (every item has `kind` (S); domain items have `body` (S) = the domain object's JSON)
//!
//! | kind | PK | SK | other attributes |
//! |---|---|---|---|
//! | `customer` | `T#{tenant}#C#{id}` | `PROFILE` | `version` (N), `GSI1PK` = `T#{tenant}#P#{e164}`, `GSI1SK` = `C#{id}` |
//! | `event` | `T#{tenant}#C#{id}` | `EV#{occurred_at}#{event_id}` | `expires_at` |
//! | `evid` | `T#{tenant}#C#{id}` | `EVID#{event_id}` | `event_type`, `expires_at`; event ids are per customer. Items an earlier release wrote at `T#{tenant}#EVID#{event_id}` / `-` with `target_pk` are still honoured (a ConditionCheck in `record_event`) until they expire |
//! | `message` | `T#{tenant}#C#{id}` | `MSG#{created_at}#{message_id}` | `status` (S), `attempts` (N); while queued `GSI2PK` = `OUTBOX#{shard}`, `GSI2SK` = `{next_attempt_at}#{created_at}#{id}`; while held `LEASE#{shard}` by `lease_until`; while sent `RECEIPT#{shard}` by `sent_at` |
//! | `message_ref` | `T#{tenant}#M#{message_id}` | `-` | `target_pk`, `target_sk` (the message) |
//! | `dedupe` | `T#{tenant}#DD#{rule:customer:occurrence}` | `-` | `message_id` |
//! | `timer` | `DUE#{yyyy-mm-ddThh:mm}#{shard}` | `{tenant}#{customer}#{rule}#{occurrence}` | |
//! | `timer_ref` | `T#{tenant}#C#{id}` | `TIMER#{rule}#{occurrence}` | `target_pk`, `target_sk` (its `timer` item); `body` too |
//! | `checkpoint` | `SCHED` | `CHECKPOINT` | `minute` (N, epoch seconds) |
//! | `suppression` | `T#{tenant}#OPTOUT#{e164}` | `-` | `at`, `source`, `reference` (the inbound message id of an opt-out) |
//! | `stats` | `T#{tenant}#STATS#{yyyy-mm-dd}` | `{rule}#{0–7}` | one N attribute per counter; a rule's 8 items are summed when read |
//! | `inbound` | `T#{tenant}#IN#{provider_id}` | `-` | `at`, `expires_at` |
//! | `reply_text` | `T#{tenant}#REPLYTEXT#{yyyy-mm-dd}` | `TEXT#{normalised text, ≤ 160 chars}` | `count` (N), `expires_at` |
//! | `signature` | `T#{tenant}#SIG#{hex}` | `-` | `expires_at` (when the signature's timestamp is too old to be accepted) |
//! | `api_key` | `KEY#{id}` | `-` | |
//!
//! Timestamps in keys are RFC 3339 at whole seconds (`2026-03-02T10:00:00Z`), so keys sort as
//! time does. Shards are FNV-1a of the timer's SK (of the message id for the outbox) modulo
//! `shards` (4 by default); the shard count is fixed for the life of a table.
//!
//! # Costs and limits
//!
//! A sent text costs about 3 requests from decision to delivery (`cargo run -p nudge-core
//! --example dynamo_costs`, which runs the tick and the send handler on the emulator):
//!
//! - **Decision** (evaluate tick): one TransactWriteItems of 7 items (dedupe, profile,
//!   message, lookup, timer due item and pointer, stats) — about 14 WCU (transactions count
//!   double) plus 2 WCU for the GSI1 and GSI2 replicas. The profiles of a minute's due timers
//!   are read 100 at a time with BatchGetItem; the due Query per shard and the checkpoint
//!   read and write are per minute, not per text.
//! - **Send** (stream handler, from the record's image, no read): the claim — the message
//!   put conditional on the version read, with the suppression entry's absence as a
//!   ConditionCheck in the same transaction — and the result with its stats counters in a
//!   second transaction: about 8 WCU.
//!
//! The counters of a (tenant, day, rule) are in the decision and result transactions of that
//! rule; they are spread over 8 items (picked by message id) so that concurrent writers seldom
//! meet. When two do (`TransactionConflict`), a decision is taken again
//! (`CommitOutcome::Conflict`) and a result is written again after a short pause (the
//! cancelled transaction wrote nothing). `record_event` fits in one transaction only up to
//! ~32 timers (100 items); more is a `Store` error.
//!
//! GSI reads are eventually consistent: a just-queued message may reach `sendable_messages` a
//! moment later (claiming is conditional, so a stale entry is harmless), and
//! `find_customer_by_phone` re-reads the profile consistently.
// One file per store role, each implementing its trait; then what they share.
mod api_keys;
mod counters;
mod customers;
mod due_index;
mod events;
mod inbound;
mod messages;
mod signatures;
mod suppressions;

mod errors;
mod items;
pub mod keys;
mod paging;
pub mod stream;
mod table;
mod tx;

use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_dynamodb::Client;
use std::sync::atomic::AtomicU64;

pub use errors::{classify as classify_cancellation, Cancelled};
pub use items::size as item_size;
use items::{key_map, Item};
use keys::Key;
use nudge_core::error::Result;
pub use table::create_table;
use tx::{Condition, Writes};

pub struct DynamoStore {
    client: Client,
    table: String,
    shards: u8,
    /// Which spread stats item the next plain counter update goes to.
    stats_turn: AtomicU64,
}

impl DynamoStore {
    /// A store on `table` (created beforehand: SAM template or [`create_table`]). Retries of
    /// throttled and transient requests come from the client's retry configuration.
    pub fn new(client: Client, table: impl Into<String>) -> DynamoStore {
        DynamoStore {
            client,
            table: table.into(),
            shards: keys::DEFAULT_SHARDS,
            stats_turn: AtomicU64::new(0),
        }
    }

    /// Number of due-index partitions per minute and of outbox partitions (1–255); must stay
    /// the same for the life of a table.
    pub fn with_shards(mut self, shards: u8) -> DynamoStore {
        self.shards = shards.max(1);
        self
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Strongly consistent GetItem.
    async fn get(&self, key: &Key) -> Result<Option<Item>> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map(|out| out.item)
            .map_err(|e| errors::store("get_item", e))
    }

    /// PutItem under an optional condition; false when the condition failed.
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<bool> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        if let Some(c) = condition {
            request = request
                .condition_expression(c.expression)
                .set_expression_attribute_names(Some(c.names))
                .set_expression_attribute_values((!c.values.is_empty()).then_some(c.values));
        }
        errors::written("put_item", request.send().await)
    }

    /// DeleteItem; true when the item existed.
    async fn delete(&self, key: &Key) -> Result<bool> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map(|out| out.attributes.is_some_and(|a| !a.is_empty()))
            .map_err(|e| errors::store("delete_item", e))
    }

    /// Runs a transaction; `Some` tells why it was cancelled (conditions, conflict).
    async fn transact(&self, op: &str, writes: Writes) -> Result<Option<Cancelled>> {
        if writes.is_empty() {
            return Ok(None);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes.into_items()))
            .send()
            .await
        {
            Ok(_) => Ok(None),
            Err(e) => errors::transaction(op, e).map(Some),
        }
    }
}
