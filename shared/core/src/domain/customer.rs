use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use super::{Category, CustomerId, MessageId, PhoneNumber, RuleId, TenantId, UndeliveredReason};
use crate::error::{Error, Result};

/// Most recent timestamps kept per event type, enough for `count` triggers.
pub(crate) const RECENT_EVENTS_KEPT: usize = 32;

/// Most recent texts of rules with a goal kept per customer (touches older than the longest
/// goal window are forgotten first), enough for last-touch attribution.
pub const TOUCHES_KEPT: usize = 32;

/// A customer of a tenant, with everything the scheduler and the policies need to decide
/// without further reads: consent, activity per event type and the ledger of recent sends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub tenant: TenantId,
    pub id: CustomerId,
    pub phone: PhoneNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// IANA time zone; the tenant's default applies when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default)]
    pub attributes: Map<String, Value>,
    #[serde(default)]
    pub consent: Consent,
    /// Per event type: first/last occurrence, total count and the most recent timestamps.
    #[serde(default)]
    pub activity: BTreeMap<String, Activity>,
    /// Recent sends, pruned to the longest policy window; the frequency caps read it.
    #[serde(default)]
    pub ledger: Vec<SentEntry>,
    /// Per rule: the last time a `count` trigger fired (so one burst fires once).
    #[serde(default)]
    pub marks: BTreeMap<RuleId, DateTime<Utc>>,
    /// The number nudge gave up on (`policy.number_hygiene`): it is suppressed, and the
    /// customer's texts are skipped `number_invalid` while the customer keeps that number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_invalid: Option<NumberInvalid>,
    /// Recent texts of rules with a goal (and the holdout decisions of those rules), oldest
    /// first, that a goal event may be attributed to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub touches: Vec<Touch>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version, incremented by every write.
    #[serde(default)]
    pub version: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    pub state: ConsentState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentState {
    #[default]
    Subscribed,
    OptedOut,
}

/// A number given up on: why, after how many outcomes in a row, and since when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumberInvalid {
    pub phone: PhoneNumber,
    pub reason: UndeliveredReason,
    pub outcomes: u32,
    pub since: DateTime<Utc>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub first_at: Option<DateTime<Utc>>,
    pub last_at: Option<DateTime<Utc>>,
    pub count: u64,
    /// Newest last, at most [`RECENT_EVENTS_KEPT`].
    #[serde(default)]
    pub recent: Vec<DateTime<Utc>>,
}

/// A text of a rule with a goal, or the moment it would have been sent to a held-out
/// customer: what a later goal event is attributed to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    pub rule: RuleId,
    /// When the text was decided "send" (or the customer was held out).
    pub at: DateTime<Utc>,
    /// The message recorded for the decision (queued, or skipped `holdout`).
    pub message: MessageId,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held_out: bool,
    /// When a goal event was attributed to it (each touch converts at most once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentEntry {
    pub at: DateTime<Utc>,
    pub category: Category,
    pub rule: RuleId,
}

impl Customer {
    pub fn new(tenant: TenantId, id: CustomerId, phone: PhoneNumber, now: DateTime<Utc>) -> Self {
        Customer {
            tenant,
            id,
            phone,
            region: None,
            timezone: None,
            locale: None,
            attributes: Map::new(),
            consent: Consent::default(),
            activity: BTreeMap::new(),
            ledger: Vec::new(),
            marks: BTreeMap::new(),
            number_invalid: None,
            touches: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    /// The customer's zone, or `default` when none is set or it does not parse.
    pub fn zone(&self, default: Tz) -> Tz {
        self.timezone
            .as_deref()
            .and_then(|z| z.parse().ok())
            .unwrap_or(default)
    }

    pub fn is_opted_out(&self) -> bool {
        self.consent.state == ConsentState::OptedOut
    }

    /// Whether the customer's current number is one nudge gave up on (a new number is
    /// texted again).
    pub fn number_is_invalid(&self) -> bool {
        self.number_invalid
            .as_ref()
            .is_some_and(|u| u.phone == self.phone)
    }

    /// Records one event occurrence in the activity summary (out-of-order safe).
    pub fn record_activity(&mut self, event_type: &str, at: DateTime<Utc>) {
        let entry = self.activity.entry(event_type.to_owned()).or_default();
        entry.count += 1;
        entry.first_at = Some(entry.first_at.map_or(at, |f| f.min(at)));
        entry.last_at = Some(entry.last_at.map_or(at, |l| l.max(at)));
        let pos = entry.recent.partition_point(|t| *t <= at);
        entry.recent.insert(pos, at);
        if entry.recent.len() > RECENT_EVENTS_KEPT {
            let excess = entry.recent.len() - RECENT_EVENTS_KEPT;
            entry.recent.drain(..excess);
        }
    }

    /// Adds a send to the ledger and forgets entries older than `keep_since`.
    pub fn record_send(&mut self, entry: SentEntry, keep_since: DateTime<Utc>) {
        self.ledger.retain(|e| e.at >= keep_since);
        self.ledger.push(entry);
    }

    /// Adds a touch and forgets touches older than `keep_since`, then the oldest beyond
    /// [`TOUCHES_KEPT`]. Touches stay in time order whatever order they are recorded in.
    pub fn record_touch(&mut self, touch: Touch, keep_since: DateTime<Utc>) {
        self.touches.retain(|t| t.at >= keep_since);
        let pos = self.touches.partition_point(|t| t.at <= touch.at);
        self.touches.insert(pos, touch);
        if self.touches.len() > TOUCHES_KEPT {
            let excess = self.touches.len() - TOUCHES_KEPT;
            self.touches.drain(..excess);
        }
    }

    /// The view of the customer that CEL conditions and templates see: attributes at the top
    /// level plus `id`, `phone`, `region`, `timezone`, `locale`, `opted_out` and
    /// `activity[type]` = `{count, first_at, last_at}` (RFC 3339) per event type.
    pub fn to_context(&self) -> Value {
        let mut map = self.attributes.clone();
        map.insert("id".into(), Value::String(self.id.to_string()));
        map.insert("phone".into(), Value::String(self.phone.to_string()));
        let optional = [
            ("region", &self.region),
            ("timezone", &self.timezone),
            ("locale", &self.locale),
        ];
        for (key, value) in optional {
            if let Some(v) = value {
                map.insert(key.into(), Value::String(v.clone()));
            }
        }
        map.insert("opted_out".into(), Value::Bool(self.is_opted_out()));
        let activity: Map<String, Value> = self
            .activity
            .iter()
            .map(|(kind, a)| {
                let stamp = |t: Option<DateTime<Utc>>| {
                    t.map_or(Value::Null, |t| Value::String(t.to_rfc3339()))
                };
                let summary = serde_json::json!({
                    "count": a.count, "first_at": stamp(a.first_at), "last_at": stamp(a.last_at),
                });
                (kind.clone(), summary)
            })
            .collect();
        map.insert("activity".into(), Value::Object(activity));
        Value::Object(map)
    }
}

/// Validates an IANA zone name, naming the offending value.
pub(crate) fn parse_zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>()
        .map_err(|_| Error::invalid("timezone", format!("{name:?} is not an IANA time zone")))
}
