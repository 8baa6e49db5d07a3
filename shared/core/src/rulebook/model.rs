//! The compiled rulebook the engine runs on. Built only by [`super::parse`] (never by hand in
//! production code), so every value here has been validated.
use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::domain::{Category, RuleId, Span, TenantId};
use crate::policy::Policy;
use crate::reply::ReplySettings;

#[derive(Clone, Debug)]
pub struct Rulebook {
    pub tenant: TenantId,
    /// Every text starts with `【brand】`.
    pub brand: String,
    /// Default zone for customers without one.
    pub timezone: Tz,
    pub locale: Option<String>,
    /// Default region (ISO 3166, e.g. `CN`) for phone numbers written nationally.
    pub phone_region: Option<String>,
    /// The tenant's own sending/receiving numbers: inbound replies to them are this tenant's.
    pub numbers: Vec<crate::domain::PhoneNumber>,
    /// Who the tenant's texts come from (`sender:`); None lets the provider choose.
    pub origination: Option<crate::domain::Origination>,
    pub holidays: BTreeSet<NaiveDate>,
    /// Customer attributes templates and triggers may use.
    pub attributes: BTreeSet<String>,
    pub policy: Policy,
    pub replies: ReplySettings,
    pub rules: Vec<Rule>,
}

impl Rulebook {
    pub fn rule(&self, id: &RuleId) -> Option<&Rule> {
        self.rules.iter().find(|r| &r.id == id)
    }

    /// The longest goal window of the rulebook's rules (None without goals): how long a
    /// customer's touches are kept.
    pub fn longest_goal_window(&self) -> Option<Span> {
        self.rules
            .iter()
            .filter_map(|r| r.goal.as_ref())
            .map(|g| g.within)
            .max_by_key(Span::approx_seconds)
    }
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub id: RuleId,
    pub category: Category,
    pub description: Option<String>,
    pub trigger: Trigger,
    /// Must hold at schedule time and again at fire time.
    pub when: Option<Condition>,
    /// When it holds at fire time, the occurrence is dropped (e.g. already converted).
    pub exit: Option<Condition>,
    pub template: Template,
    /// For template gateways (Tencent Cloud SMS…): the approved template and, in its order,
    /// the variables that fill its parameters (the same ones the text uses).
    pub gateway_template: Option<GatewayTemplate>,
    /// Share of customers held out for measurement, in basis points (10% = 1000).
    pub holdout_bp: u32,
    /// The event that counts as the text's conversion.
    pub goal: Option<Goal>,
    /// Reply menu: normalised keyword → action.
    pub replies: BTreeMap<String, ReplyAction>,
    pub max_segments: Option<u32>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Trigger {
    /// Each event of a type (matching `filter`) fires once, `delay` after it occurred.
    Event {
        event_type: String,
        delay: Span,
        filter: Option<Condition>,
    },
    /// Once, at a customer date attribute ± offset (at a local time of day when given).
    Date {
        attribute: String,
        offset: Span,
        at: Option<NaiveTime>,
    },
    /// Every year on the month/day of a date attribute ± offset; Feb 29 → Feb 28.
    Anniversary {
        attribute: String,
        offset: Span,
        at: Option<NaiveTime>,
    },
    /// When no event of a type happened for `after`; once per inactivity episode.
    Inactive {
        event_type: String,
        after: Span,
        at: Option<NaiveTime>,
    },
    /// Recurring every `interval` from a date attribute (not at the attribute itself).
    Every {
        attribute: String,
        interval: Span,
        at: Option<NaiveTime>,
    },
    /// When `times` events of a type happened within `within`; once per burst.
    Count {
        event_type: String,
        times: u32,
        within: Span,
        delay: Span,
    },
}

impl Trigger {
    /// Event-driven triggers are created by ingestion; the others are recomputed from state.
    pub(crate) fn is_event_driven(&self) -> bool {
        matches!(self, Trigger::Event { .. } | Trigger::Count { .. })
    }

    /// Whether a sent occurrence is followed by another one computed from the same state
    /// (a date or an inactivity episode fires once; its next one needs new data or activity).
    pub(crate) fn recurs(&self) -> bool {
        matches!(self, Trigger::Anniversary { .. } | Trigger::Every { .. })
    }
}

/// A rule's goal: an event of `event_type` (matching `filter`) within `within` of a text
/// converts it; `value` is the path of the event property that holds its worth
/// (`properties.amount` → `["amount"]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Goal {
    pub event_type: String,
    pub within: Span,
    pub filter: Option<Condition>,
    pub value: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ReplyAction {
    /// Event type emitted (`keyword.matched` carries it).
    pub emit: Option<String>,
    /// Auto-answer, sent as a transactional text.
    pub answer: Option<String>,
    /// Customer attributes set; the value `now` stores the reply time (RFC 3339).
    pub set: BTreeMap<String, serde_json::Value>,
}

/// A compiled CEL expression over `customer`, `event` and `now`.
#[derive(Clone)]
pub struct Condition {
    pub source: String,
    pub program: Arc<cel::Program>,
    /// The customer fields the expression reads (`customer.plan` → `plan`); None when it uses
    /// `customer` as a whole.
    pub customer_fields: Option<std::collections::BTreeSet<String>>,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Condition").field(&self.source).finish()
    }
}

impl PartialEq for Condition {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

/// A gateway's approved template: its id, and one template per parameter (`{{ name }}`).
#[derive(Clone, Debug)]
pub struct GatewayTemplate {
    pub id: String,
    pub params: Vec<Template>,
}

/// A message body template (minijinja syntax, strict about undefined variables).
#[derive(Clone)]
pub struct Template {
    pub source: String,
    pub env: Arc<minijinja::Environment<'static>>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}
