//! Items of the table: attribute maps built from domain objects and read back. The `body` of
//! a domain item is the same JSON the SQLite store keeps; the other attributes exist only for
//! keys, indexes, conditions, TTL and the stream filter.
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

use super::keys::{self, kind, Key};
use nudge_core::domain::{ApiKey, Customer, Event, Message, MessageStatus, Timer};
use nudge_core::error::{Error, Result};
use nudge_core::ports::PROVIDER_ID_KEPT_DAYS;

pub type Item = HashMap<String, AttributeValue>;

/// How long events (and their idempotency ids) are kept.
pub const EVENT_TTL_DAYS: i64 = nudge_core::domain::EVENT_RETENTION_DAYS;
/// How long inbound provider ids are remembered.
pub const INBOUND_TTL_DAYS: i64 = 30;
/// How long free-text reply counts are kept (they hold what customers wrote).
pub const REPLY_TEXT_TTL_DAYS: i64 = 400;

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub fn key_map(key: &Key) -> Item {
    HashMap::from([
        (keys::PK.to_string(), s(&key.pk)),
        (keys::SK.to_string(), s(&key.sk)),
    ])
}

/// The key and `kind` every item starts from.
fn base(key: &Key, kind: &str) -> Item {
    let mut item = key_map(key);
    item.insert(keys::KIND.into(), s(kind));
    item
}

fn with_body<T: Serialize>(key: &Key, kind: &str, value: &T) -> Result<Item> {
    let mut item = base(key, kind);
    item.insert(keys::BODY.into(), s(to_json(value)?));
    Ok(item)
}

pub fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Store(format!("encoding: {e}")))
}

/// Decodes the `body` of an item.
pub fn body<T: DeserializeOwned>(item: &Item) -> Result<T> {
    let text = get_s(item, keys::BODY).ok_or_else(|| Error::store("stored item has no body"))?;
    serde_json::from_str(text).map_err(|e| Error::Store(format!("decoding stored item: {e}")))
}

pub fn key_of(item: &Item) -> Result<Key> {
    match (get_s(item, keys::PK), get_s(item, keys::SK)) {
        (Some(pk), Some(sk)) => Ok(Key {
            pk: pk.to_string(),
            sk: sk.to_string(),
        }),
        _ => Err(Error::store("stored item has no key")),
    }
}

/// The customer as stored with `version`: the body carries the same version.
pub fn customer(c: &Customer, version: u64) -> Result<Item> {
    let mut stored = c.clone();
    stored.version = version;
    let mut item = with_body(&keys::customer(&c.tenant, &c.id), kind::CUSTOMER, &stored)?;
    item.insert(keys::VERSION.into(), n(version));
    item.insert(
        keys::GSI1PK.into(),
        s(keys::phone_gsi1pk(&c.tenant, &c.phone)),
    );
    item.insert(keys::GSI1SK.into(), s(keys::customer_gsi1sk(&c.id)));
    Ok(item)
}

pub fn expires(at: DateTime<Utc>, days: i64) -> AttributeValue {
    n((at + TimeDelta::days(days)).timestamp())
}

pub fn event(e: &Event) -> Result<Item> {
    let key = keys::event(&e.tenant, &e.customer_id, e.occurred_at, &e.event_id);
    let mut item = with_body(&key, kind::EVENT, e)?;
    item.insert(
        keys::EXPIRES_AT.into(),
        expires(e.occurred_at, EVENT_TTL_DAYS),
    );
    Ok(item)
}

/// The idempotency item of a customer's event id, with the event's type; it expires with
/// the event.
pub fn event_id(e: &Event) -> Item {
    let key = keys::event_id(&e.tenant, &e.customer_id, &e.event_id);
    let mut item = base(&key, kind::EVID);
    item.insert(keys::EVENT_TYPE.into(), s(&e.event_type));
    item.insert(
        keys::EXPIRES_AT.into(),
        expires(e.occurred_at, EVENT_TTL_DAYS),
    );
    item
}

pub fn message_key(m: &Message) -> Key {
    keys::message(&m.tenant, &m.customer_id, m.created_at, &m.id)
}

/// A message; while queued, held by a sender or awaiting its receipt it also sits in the
/// sparse index GSI2.
pub fn message(m: &Message, shards: u8) -> Result<Item> {
    let mut item = with_body(&message_key(m), kind::MESSAGE, m)?;
    item.insert(keys::STATUS.into(), s(m.status.as_str()));
    item.insert(keys::ATTEMPTS.into(), n(m.attempts));
    // Queued messages are listed in the outbox by their next attempt, held ones by the end
    // of their lease, sent ones (awaiting a receipt) by when they were sent; the others
    // leave the index.
    let listed = match (m.status, m.lease_until) {
        (MessageStatus::Queued, _) => Some((
            keys::outbox_gsi2pk as fn(u8) -> String,
            m.next_attempt_at.unwrap_or(m.created_at),
        )),
        (status, Some(lease_until)) if status.is_leased() => {
            Some((keys::lease_gsi2pk as fn(u8) -> String, lease_until))
        }
        (MessageStatus::Sent, _) => Some((
            keys::receipt_gsi2pk as fn(u8) -> String,
            m.sent_at.unwrap_or(m.updated_at),
        )),
        _ => None,
    };
    if let Some((partition, due)) = listed {
        let shard = keys::shard_of(m.id.as_str(), shards);
        item.insert(keys::GSI2PK.into(), s(partition(shard)));
        item.insert(
            keys::GSI2SK.into(),
            s(keys::outbox_gsi2sk(due, m.created_at, &m.id)),
        );
    }
    Ok(item)
}

pub fn message_ref(m: &Message) -> Item {
    let target = message_key(m);
    let mut item = base(&keys::message_ref(&m.tenant, &m.id), kind::MESSAGE_REF);
    item.insert(keys::TARGET_PK.into(), s(target.pk));
    item.insert(keys::TARGET_SK.into(), s(target.sk));
    item
}

/// The provider-id lookup of a message accepted by a provider, pointing at the message and
/// kept [`PROVIDER_ID_KEPT_DAYS`] after it was sent; None for a message without one.
pub fn provider_ref(m: &Message) -> Option<Item> {
    let (provider, provider_id) = (m.provider.as_deref()?, m.provider_id.as_deref()?);
    let target = message_key(m);
    let mut item = base(
        &keys::provider_ref(provider, provider_id),
        kind::PROVIDER_REF,
    );
    item.insert(keys::TARGET_PK.into(), s(target.pk));
    item.insert(keys::TARGET_SK.into(), s(target.sk));
    item.insert(
        keys::EXPIRES_AT.into(),
        expires(m.sent_at.unwrap_or(m.updated_at), PROVIDER_ID_KEPT_DAYS),
    );
    Some(item)
}

pub fn dedupe(m: &Message) -> Item {
    let mut item = base(&keys::dedupe(&m.tenant, &m.own_dedupe_key()), kind::DEDUPE);
    item.insert("message_id".into(), s(m.id.as_str()));
    item
}

/// The due-index item of a timer.
pub fn due_timer(t: &Timer, shards: u8) -> Result<Item> {
    with_body(&keys::due(t, shards), kind::TIMER, t)
}

/// The per-customer pointer: the timer itself (so `customer_timers` is one Query) and where its
/// due-index item is.
pub fn timer_ref(t: &Timer, shards: u8) -> Result<Item> {
    let due = keys::due(t, shards);
    let mut item = with_body(&keys::timer_ref_of(t), kind::TIMER_REF, t)?;
    item.insert(keys::TARGET_PK.into(), s(due.pk));
    item.insert(keys::TARGET_SK.into(), s(due.sk));
    Ok(item)
}

/// Where a pointer (timer or message lookup) points.
pub fn target(item: &Item) -> Option<Key> {
    Some(Key {
        pk: get_s(item, keys::TARGET_PK)?.to_string(),
        sk: get_s(item, keys::TARGET_SK)?.to_string(),
    })
}

pub fn inbound(key: &Key, at: DateTime<Utc>) -> Item {
    let mut item = base(key, kind::INBOUND);
    item.insert("at".into(), s(keys::ts(at)));
    item.insert(keys::EXPIRES_AT.into(), expires(at, INBOUND_TTL_DAYS));
    item
}

/// An accepted signature; it expires (TTL) when it could not be accepted anyway.
pub fn signature(key: &Key, until: DateTime<Utc>) -> Item {
    let mut item = base(key, kind::SIGNATURE);
    item.insert(keys::EXPIRES_AT.into(), n(until.timestamp()));
    item
}

pub fn api_key(k: &ApiKey) -> Result<Item> {
    with_body(&keys::api_key(&k.id), kind::API_KEY, k)
}

pub fn checkpoint_minute(item: &Item) -> Result<DateTime<Utc>> {
    get_n(item, keys::MINUTE)
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| Error::store("checkpoint item has no valid minute"))
}

/// Approximate stored size of an item in bytes, by DynamoDB's rules (names + values; numbers
/// count about one byte per two digits). Used to estimate write units.
pub fn size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(num) => num.trim_start_matches('-').len().div_ceil(2) + 1,
        AttributeValue::B(blob) => blob.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::Ss(items) => items.iter().map(String::len).sum(),
        AttributeValue::Ns(items) => items.iter().map(|v| v.len().div_ceil(2) + 1).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;
    use nudge_core::domain::{Category, CustomerId, MessageId, PhoneNumber, RuleId, TenantId};

    fn msg(status: MessageStatus) -> Message {
        let now = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        Message {
            tenant: TenantId::parse("acme").unwrap(),
            id: MessageId::parse("m1").unwrap(),
            customer_id: CustomerId::parse("c1").unwrap(),
            rule: RuleId::parse("promo").unwrap(),
            category: Category::Marketing,
            occurrence: "o".into(),
            phone: PhoneNumber::parse("13800138000", Some("CN")).unwrap(),
            text: "hi".into(),
            template: None,
            segments: 1,
            status,
            reason: None,
            created_at: now,
            updated_at: now,
            provider: None,
            provider_id: None,
            sent_at: None,
            delivery: None,
            attempts: 0,
            next_attempt_at: None,
            lease_until: None,
            ignores_suppression: false,
        }
    }

    #[test]
    fn queued_messages_carry_status_body_and_the_outbox_index() {
        let item = message(&msg(MessageStatus::Queued), 4).unwrap();
        assert_eq!(get_s(&item, "kind"), Some("message"));
        assert_eq!(get_s(&item, "status"), Some("queued"));
        assert!(get_s(&item, "GSI2PK").unwrap().starts_with("OUTBOX#"));
        assert!(get_s(&item, "GSI2SK")
            .unwrap()
            .starts_with("2026-03-02T10:00:00Z#"));
        let back: Message = body(&item).unwrap();
        assert_eq!(back, msg(MessageStatus::Queued));
    }

    #[test]
    fn other_statuses_leave_the_outbox_index() {
        let item = message(&msg(MessageStatus::Sending), 4).unwrap();
        assert_eq!(get_s(&item, "status"), Some("sending"));
        assert!(!item.contains_key("GSI2PK") && !item.contains_key("GSI2SK"));
    }

    #[test]
    fn held_messages_are_listed_by_the_end_of_their_lease() {
        let mut held = msg(MessageStatus::Dispatched);
        held.lease_until = Some(Utc.with_ymd_and_hms(2026, 3, 2, 10, 5, 0).unwrap());
        let item = message(&held, 4).unwrap();
        assert!(get_s(&item, "GSI2PK").unwrap().starts_with("LEASE#"));
        assert!(get_s(&item, "GSI2SK")
            .unwrap()
            .starts_with("2026-03-02T10:05:00Z#2026-03-02T10:00:00Z#"));
        // The outbox and the leases are sharded alike, by message id.
        let queued = message(&msg(MessageStatus::Queued), 4).unwrap();
        assert_eq!(
            get_s(&item, "GSI2PK").unwrap().trim_start_matches("LEASE#"),
            get_s(&queued, "GSI2PK")
                .unwrap()
                .trim_start_matches("OUTBOX#")
        );
        assert_eq!(body::<Message>(&item).unwrap(), held);
    }

    #[test]
    fn sizes_count_names_and_values() {
        let item = Item::from([("ab".to_string(), s("xyz")), ("n".to_string(), n(12345))]);
        assert_eq!(size(&item), 2 + 3 + 1 + 4);
    }
}
