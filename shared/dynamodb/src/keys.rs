//! Keys of the single table, as pure functions of the domain values. Every other part of the
//! adapter (and the SAM template, the stream filter) relies on these exact spellings.
use chrono::{DateTime, NaiveDate, Utc};

use nudge_core::domain::{CustomerId, EventId, MessageId, PhoneNumber, RuleId, TenantId, Timer};

// Attribute names.
pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const KIND: &str = "kind";
pub const BODY: &str = "body";
pub const STATUS: &str = "status";
pub const VERSION: &str = "version";
/// Send attempts of a message (N): the claim is conditional on it.
pub const ATTEMPTS: &str = "attempts";
/// What asked for a suppression (S): the inbound message id of an opt-out.
pub const REFERENCE: &str = "reference";
pub const GSI1PK: &str = "GSI1PK";
pub const GSI1SK: &str = "GSI1SK";
pub const GSI2PK: &str = "GSI2PK";
pub const GSI2SK: &str = "GSI2SK";
pub const EXPIRES_AT: &str = "expires_at";
/// On a timer pointer and a message lookup item: where the real item lives.
pub const TARGET_PK: &str = "target_pk";
pub const TARGET_SK: &str = "target_sk";
/// On the checkpoint item: the minute as epoch seconds.
pub const MINUTE: &str = "minute";

// Index names.
pub const GSI1: &str = "GSI1";
pub const GSI2: &str = "GSI2";

/// On an event id item: the event's type, which a repeated id must have.
pub const EVENT_TYPE: &str = "event_type";

/// The sort key of items that are alone in their partition.
pub const SINGLE: &str = "-";
pub const PROFILE: &str = "PROFILE";
pub const EVENT_PREFIX: &str = "EV#";
pub const EVENT_ID_PREFIX: &str = "EVID#";
pub const MESSAGE_PREFIX: &str = "MSG#";
pub const TIMER_PREFIX: &str = "TIMER#";
pub const REPLY_TEXT_PREFIX: &str = "TEXT#";
/// On a reply text item: how often the text was received that day.
pub const COUNT: &str = "count";

/// Default number of partitions per due minute and of outbox partitions.
pub const DEFAULT_SHARDS: u8 = 4;

/// Values of the `kind` attribute.
pub mod kind {
    pub const CUSTOMER: &str = "customer";
    pub const EVENT: &str = "event";
    pub const EVID: &str = "evid";
    pub const MESSAGE: &str = "message";
    pub const MESSAGE_REF: &str = "message_ref";
    pub const DEDUPE: &str = "dedupe";
    pub const TIMER: &str = "timer";
    pub const TIMER_REF: &str = "timer_ref";
    pub const CHECKPOINT: &str = "checkpoint";
    pub const SUPPRESSION: &str = "suppression";
    pub const STATS: &str = "stats";
    pub const INBOUND: &str = "inbound";
    pub const PROVIDER_REF: &str = "provider_ref";
    pub const SIGNATURE: &str = "signature";
    pub const REPLY_TEXT: &str = "reply_text";
    pub const API_KEY: &str = "api_key";
}

/// A primary key (partition, sort).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Key {
        Key { pk, sk: sk.into() }
    }
}

/// RFC 3339 at whole seconds with `Z`: fixed width, so it sorts as time does (and matches the
/// second precision the SQLite store orders by).
pub fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The minute bucket of an instant: `2026-03-02T10:00`.
pub fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// Stable across processes and releases (FNV-1a, 32 bit), unlike `std`'s hasher.
pub fn shard_of(text: &str, shards: u8) -> u8 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    // The modulo is below `shards`, so it fits in a u8.
    (hash % u32::from(shards.max(1))) as u8
}

/// The tenant named by a tenant's partition key (`T#{tenant}#…`), as written.
pub fn tenant_of(pk: &str) -> Option<&str> {
    pk.strip_prefix("T#")?.split('#').next()
}

fn customer_pk(tenant: &TenantId, id: &CustomerId) -> String {
    format!("T#{tenant}#C#{id}")
}

pub fn customer_partition(tenant: &TenantId, id: &CustomerId) -> String {
    customer_pk(tenant, id)
}

pub fn customer(tenant: &TenantId, id: &CustomerId) -> Key {
    Key::new(customer_pk(tenant, id), PROFILE)
}

/// GSI1 partition of a phone number (phone → customer).
pub fn phone_gsi1pk(tenant: &TenantId, phone: &PhoneNumber) -> String {
    format!("T#{tenant}#P#{phone}")
}

pub fn customer_gsi1sk(id: &CustomerId) -> String {
    format!("C#{id}")
}

pub fn event(tenant: &TenantId, customer: &CustomerId, at: DateTime<Utc>, id: &EventId) -> Key {
    Key::new(
        customer_pk(tenant, customer),
        format!("{EVENT_PREFIX}{}#{id}", ts(at)),
    )
}

/// The idempotency item of a customer's event id.
pub fn event_id(tenant: &TenantId, customer: &CustomerId, id: &EventId) -> Key {
    Key::new(
        customer_pk(tenant, customer),
        format!("{EVENT_ID_PREFIX}{id}"),
    )
}

/// Where releases that kept event ids per tenant recorded one (with `target_pk`, the
/// customer's partition). Such items expire with their events; until then a repeated id of
/// the same customer is still a duplicate.
pub fn tenant_event_id(tenant: &TenantId, id: &EventId) -> Key {
    Key::new(format!("T#{tenant}#EVID#{id}"), SINGLE)
}

pub fn message(
    tenant: &TenantId,
    customer: &CustomerId,
    created_at: DateTime<Utc>,
    id: &MessageId,
) -> Key {
    Key::new(
        customer_pk(tenant, customer),
        format!("{MESSAGE_PREFIX}{}#{id}", ts(created_at)),
    )
}

/// The lookup item that finds a message by id.
pub fn message_ref(tenant: &TenantId, id: &MessageId) -> Key {
    Key::new(format!("T#{tenant}#M#{id}"), SINGLE)
}

/// Where a sent message is found by the provider's id of it (what receipts name). Provider
/// ids are unique per provider across the account, so the key holds no tenant.
pub fn provider_ref(provider: &str, provider_id: &str) -> Key {
    Key::new(format!("PROV#{provider}#{provider_id}"), SINGLE)
}

pub fn outbox_gsi2pk(shard: u8) -> String {
    format!("OUTBOX#{shard}")
}

/// The index partition of messages held by a sender, sorted like the outbox but by the end
/// of their lease ([`outbox_gsi2sk`] with `lease_until` first), where the sweep finds the
/// leases that ended.
pub fn lease_gsi2pk(shard: u8) -> String {
    format!("LEASE#{shard}")
}

/// The index partition of sent messages awaiting their receipt, sorted like the outbox but
/// by when they were sent: the sweep stops waiting for receipts older than its wait.
pub fn receipt_gsi2pk(shard: u8) -> String {
    format!("RECEIPT#{shard}")
}

/// Sorts the outbox by next attempt, then creation (the SQLite order), then id.
pub fn outbox_gsi2sk(
    next_attempt_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    id: &MessageId,
) -> String {
    format!("{}#{}#{id}", ts(next_attempt_at), ts(created_at))
}

/// Upper bound (exclusive) of the outbox sort keys due at `now`: `$` sorts right after `#`.
pub fn outbox_due_bound(now: DateTime<Utc>) -> String {
    format!("{}$", ts(now))
}

pub fn dedupe(tenant: &TenantId, key: &str) -> Key {
    Key::new(format!("T#{tenant}#DD#{key}"), SINGLE)
}

/// The due-index sort key: the timer's identity.
pub fn due_sk(t: &Timer) -> String {
    format!("{}#{}#{}#{}", t.tenant, t.customer_id, t.rule, t.occurrence)
}

pub fn due_pk(due: DateTime<Utc>, shard: u8) -> String {
    format!("DUE#{}#{shard}", minute(due))
}

/// The due-index item of a timer: the shard depends only on the identity, so a moved timer
/// stays in the same shard of its new minute.
pub fn due(t: &Timer, shards: u8) -> Key {
    let sk = due_sk(t);
    Key::new(due_pk(t.due, shard_of(&sk, shards)), sk)
}

/// The per-customer pointer to a timer's due-index item.
pub fn timer_ref(tenant: &TenantId, customer: &CustomerId, rule: &RuleId, occurrence: &str) -> Key {
    Key::new(
        customer_pk(tenant, customer),
        format!("{TIMER_PREFIX}{rule}#{occurrence}"),
    )
}

pub fn timer_ref_of(t: &Timer) -> Key {
    timer_ref(&t.tenant, &t.customer_id, &t.rule, &t.occurrence)
}

pub fn checkpoint() -> Key {
    Key::new("SCHED".to_string(), "CHECKPOINT")
}

pub fn suppression(tenant: &TenantId, phone: &PhoneNumber) -> Key {
    Key::new(format!("T#{tenant}#OPTOUT#{phone}"), SINGLE)
}

pub fn stats_pk(tenant: &TenantId, day: NaiveDate) -> String {
    format!("T#{tenant}#STATS#{}", day.format("%Y-%m-%d"))
}

/// The counters of a rule and day are spread over this many items, so that concurrent writers
/// (send results from several stream shards, decisions of concurrent webhook calls) seldom
/// hold the same item in their transactions; reading a day sums them.
pub const STATS_SPREAD: u8 = 8;

/// One of the [`STATS_SPREAD`] items of a rule and day: `{rule}#{n}`, `n` picked by `spread`
/// (any text that varies between writers: a message id, a counter).
pub fn stats(tenant: &TenantId, day: NaiveDate, rule: &str, spread: &str) -> Key {
    let n = shard_of(spread, STATS_SPREAD);
    Key::new(stats_pk(tenant, day), format!("{rule}#{n}"))
}

/// The rule a stats item counts for, from its sort key (rule ids never contain `#`).
pub fn stats_rule(sk: &str) -> &str {
    sk.rsplit_once('#').map_or(sk, |(rule, _)| rule)
}

pub fn reply_texts_pk(tenant: &TenantId, day: NaiveDate) -> String {
    format!("T#{tenant}#REPLYTEXT#{}", day.format("%Y-%m-%d"))
}

/// A free-text reply of a day (the text as [`nudge_core::ports::reply_text_key`] cuts it: at most
/// 160 characters, so at most 645 bytes with the prefix, under the 1 KB sort key limit).
pub fn reply_text(tenant: &TenantId, day: NaiveDate, text: &str) -> Key {
    Key::new(
        reply_texts_pk(tenant, day),
        format!("{REPLY_TEXT_PREFIX}{text}"),
    )
}

pub fn inbound(tenant: &TenantId, provider_id: &str) -> Key {
    Key::new(format!("T#{tenant}#IN#{provider_id}"), SINGLE)
}

/// An accepted request signature (hex), kept until it could not be accepted anyway.
pub fn signature(tenant: &TenantId, signature: &str) -> Key {
    Key::new(format!("T#{tenant}#SIG#{signature}"), SINGLE)
}

pub fn api_key(id: &str) -> Key {
    Key::new(format!("KEY#{id}"), SINGLE)
}

/// The event id inside an event sort key (`EV#{ts}#{id}`; ids never contain `#`).
pub fn event_id_of_sk(sk: &str) -> Option<&str> {
    sk.strip_prefix(EVENT_PREFIX)?
        .rsplit_once('#')
        .map(|(_, id)| id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::TimeZone;

    fn t() -> TenantId {
        TenantId::parse("acme").unwrap()
    }
    fn c() -> CustomerId {
        CustomerId::parse("c1").unwrap()
    }
    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, m, s).unwrap()
    }
    fn timer(due: DateTime<Utc>) -> Timer {
        Timer {
            tenant: t(),
            customer_id: c(),
            rule: RuleId::parse("trial-day-7").unwrap(),
            occurrence: "2026-03-02".into(),
            due,
            event: None,
            deferrals: 0,
        }
    }

    #[test]
    fn customer_items_and_phone_index() {
        assert_eq!(
            customer(&t(), &c()),
            Key {
                pk: "T#acme#C#c1".into(),
                sk: "PROFILE".into()
            }
        );
        let phone = PhoneNumber::parse("13800138000", Some("CN")).unwrap();
        assert_eq!(phone_gsi1pk(&t(), &phone), "T#acme#P#+8613800138000");
        assert_eq!(customer_gsi1sk(&c()), "C#c1");
    }

    #[test]
    fn events_messages_and_lookups() {
        let e = EventId::parse("e-9").unwrap();
        let ev = event(&t(), &c(), at(10, 0, 5), &e);
        assert_eq!(ev.pk, "T#acme#C#c1");
        assert_eq!(ev.sk, "EV#2026-03-02T10:00:05Z#e-9");
        assert_eq!(event_id_of_sk(&ev.sk), Some("e-9"));
        assert_eq!(
            event_id(&t(), &c(), &e),
            Key {
                pk: "T#acme#C#c1".into(),
                sk: "EVID#e-9".into()
            }
        );
        assert_eq!(tenant_event_id(&t(), &e).pk, "T#acme#EVID#e-9");
        let m = MessageId::parse("m1").unwrap();
        assert_eq!(
            message(&t(), &c(), at(10, 0, 0), &m).sk,
            "MSG#2026-03-02T10:00:00Z#m1"
        );
        assert_eq!(message_ref(&t(), &m).pk, "T#acme#M#m1");
        assert_eq!(dedupe(&t(), "r:c1:o").pk, "T#acme#DD#r:c1:o");
        assert_eq!(api_key("k1").pk, "KEY#k1");
        assert_eq!(inbound(&t(), "p1").pk, "T#acme#IN#p1");
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let counted = stats(&t(), day, "promo", "m_1");
        assert_eq!(counted.pk, "T#acme#STATS#2026-03-02");
        assert_eq!(stats_rule(&counted.sk), "promo");
        let spread: std::collections::BTreeSet<String> = (0..100)
            .map(|i| stats(&t(), day, "promo", &format!("m_{i}")).sk)
            .collect();
        assert_eq!(spread.len(), usize::from(STATS_SPREAD), "{spread:?}");
        let text = reply_text(&t(), day, "几点发货");
        assert_eq!(
            (text.pk.as_str(), text.sk.as_str()),
            ("T#acme#REPLYTEXT#2026-03-02", "TEXT#几点发货")
        );
        assert_eq!(checkpoint().pk, "SCHED");
    }

    #[test]
    fn timestamps_sort_as_time_does() {
        let early = ts(Utc.with_ymd_and_hms(2026, 3, 2, 9, 59, 59).unwrap());
        let late = ts(Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap());
        assert!(early < late);
        assert_eq!(late, "2026-03-02T10:00:00Z");
        // Sub-second parts are dropped, like the SQLite columns.
        let nanos = at(10, 0, 0) + chrono::TimeDelta::milliseconds(999);
        assert_eq!(ts(nanos), late);
    }

    #[test]
    fn outbox_bound_includes_exactly_the_due_second() {
        let m = MessageId::parse("m1").unwrap();
        let sk = outbox_gsi2sk(at(10, 30, 0), at(10, 0, 0), &m);
        assert!(sk.as_str() < outbox_due_bound(at(10, 30, 0)).as_str());
        assert!(sk.as_str() >= outbox_due_bound(at(10, 29, 59)).as_str());
    }

    #[test]
    fn timers_are_sharded_by_identity_not_by_minute() {
        let a = due(&timer(at(10, 0, 0)), 4);
        let b = due(&timer(at(11, 30, 0)), 4);
        assert_eq!(a.sk, "acme#c1#trial-day-7#2026-03-02");
        assert!(a.pk.starts_with("DUE#2026-03-02T10:00#"));
        assert!(b.pk.starts_with("DUE#2026-03-02T11:30#"));
        assert_eq!(a.pk.rsplit('#').next(), b.pk.rsplit('#').next());
        let r = timer_ref_of(&timer(at(10, 0, 0)));
        assert_eq!(
            (r.pk.as_str(), r.sk.as_str()),
            ("T#acme#C#c1", "TIMER#trial-day-7#2026-03-02")
        );
    }

    #[test]
    fn the_shard_hash_is_stable_and_spreads() {
        // Fixed values: changing the hash would strand every stored timer.
        assert_eq!(shard_of("", 4), (0x811c_9dc5u32 % 4) as u8);
        assert_eq!(shard_of("a", 255), (0xe40c_292cu32 % 255) as u8);
        let mut seen = [0usize; 4];
        for i in 0..400 {
            seen[usize::from(shard_of(&format!("acme#c{i}#r#o"), 4))] += 1;
        }
        assert!(seen.iter().all(|n| *n > 50), "{seen:?}");
        assert_eq!(shard_of("x", 0), 0);
    }
}
