//! What the API shows of the engine's records, as typed response bodies. The tenant is never
//! shown (a key belongs to one), nor a customer's send ledger and trigger marks.
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use nudge_core::domain::{
    Category, Consent, Customer, CustomerId, DeliveryReport, Message, MessageId, MessageStatus,
    PhoneNumber, RuleId, TemplateRef,
};
use nudge_core::service::{Conversion, DecisionRecord, IngestReport, Outcome};

/// A customer.
#[derive(Debug, Serialize)]
pub struct CustomerView<'a> {
    id: &'a CustomerId,
    phone: &'a PhoneNumber,
    region: Option<&'a str>,
    timezone: Option<&'a str>,
    locale: Option<&'a str>,
    attributes: &'a Map<String, Value>,
    consent: &'a Consent,
    /// Per event type.
    activity: BTreeMap<&'a str, ActivityView>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: u64,
}

/// How often and when a customer did one kind of event.
#[derive(Debug, Serialize)]
struct ActivityView {
    count: u64,
    first_at: Option<DateTime<Utc>>,
    last_at: Option<DateTime<Utc>>,
}

impl<'a> CustomerView<'a> {
    pub fn of(c: &'a Customer) -> Self {
        let activity = c
            .activity
            .iter()
            .map(|(kind, a)| {
                let summary = ActivityView {
                    count: a.count,
                    first_at: a.first_at,
                    last_at: a.last_at,
                };
                (kind.as_str(), summary)
            })
            .collect();
        CustomerView {
            id: &c.id,
            phone: &c.phone,
            region: c.region.as_deref(),
            timezone: c.timezone.as_deref(),
            locale: c.locale.as_deref(),
            attributes: &c.attributes,
            consent: &c.consent,
            activity,
            created_at: c.created_at,
            updated_at: c.updated_at,
            version: c.version,
        }
    }
}

/// What ingesting one event did.
#[derive(Debug, Serialize)]
pub struct IngestView<'a> {
    event_id: &'a str,
    duplicate: bool,
    timers_armed: usize,
    /// Taken right away (occurrences already due).
    decisions: Vec<DecisionView<'a>>,
    /// The text (or holdout decision) this goal event converted.
    #[serde(skip_serializing_if = "Option::is_none")]
    conversion: Option<&'a Conversion>,
}

impl<'a> IngestView<'a> {
    pub fn of(event_id: &'a str, report: &'a IngestReport) -> Self {
        IngestView {
            event_id,
            duplicate: report.duplicate,
            timers_armed: report.timers_armed,
            decisions: report.decisions.iter().map(DecisionView::of).collect(),
            conversion: report.conversion.as_ref(),
        }
    }
}

/// One decision about one rule occurrence for one customer.
#[derive(Debug, Serialize)]
pub struct DecisionView<'a> {
    customer_id: &'a CustomerId,
    rule: &'a RuleId,
    occurrence: &'a str,
    due: DateTime<Utc>,
    decided_at: DateTime<Utc>,
    #[serde(flatten)]
    outcome: &'a Outcome,
}

impl<'a> DecisionView<'a> {
    pub fn of(d: &'a DecisionRecord) -> Self {
        DecisionView {
            customer_id: &d.customer_id,
            rule: &d.rule,
            occurrence: &d.occurrence,
            due: d.due,
            decided_at: d.decided_at,
            outcome: &d.outcome,
        }
    }
}

/// One text of a customer's.
#[derive(Debug, Serialize)]
pub struct MessageView<'a> {
    id: &'a MessageId,
    customer_id: &'a CustomerId,
    rule: &'a RuleId,
    category: &'a Category,
    occurrence: &'a str,
    phone: &'a PhoneNumber,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<&'a TemplateRef>,
    segments: u32,
    status: &'a MessageStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    provider_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sent_at: Option<DateTime<Utc>>,
    /// The provider's receipt: when, its words, price, parts, carrier.
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<&'a DeliveryReport>,
    attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_attempt_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lease_until: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    ignores_suppression: bool,
}

impl<'a> MessageView<'a> {
    pub fn of(m: &'a Message) -> Self {
        MessageView {
            id: &m.id,
            customer_id: &m.customer_id,
            rule: &m.rule,
            category: &m.category,
            occurrence: &m.occurrence,
            phone: &m.phone,
            text: &m.text,
            template: m.template.as_ref(),
            segments: m.segments,
            status: &m.status,
            reason: m.reason.as_deref(),
            created_at: m.created_at,
            updated_at: m.updated_at,
            provider: m.provider.as_deref(),
            provider_id: m.provider_id.as_deref(),
            sent_at: m.sent_at,
            delivery: m.delivery.as_ref(),
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            lease_until: m.lease_until,
            ignores_suppression: m.ignores_suppression,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nudge_core::domain::{Activity, TenantId};
    use serde_json::json;

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    /// `record`'s own JSON less `internal` fields: what its view must show, no more, no less.
    fn shown(record: &impl Serialize, internal: &[&str]) -> Value {
        let mut value = serde_json::to_value(record).unwrap();
        let map = value.as_object_mut().unwrap();
        for field in internal {
            assert!(map.shift_remove(*field).is_some(), "{field}");
        }
        value
    }

    #[test]
    fn a_customer_is_shown_without_tenant_ledger_marks_or_recent_activity() {
        let tenant = TenantId::parse("acme").unwrap();
        let phone = PhoneNumber::parse("+8613800138000", None).unwrap();
        let mut customer = Customer::new(tenant, CustomerId::parse("c1").unwrap(), phone, at());
        customer.region = Some("north".into());
        customer.activity.insert(
            "order.paid".into(),
            Activity {
                first_at: Some(at()),
                last_at: Some(at()),
                count: 2,
                recent: vec![at()],
            },
        );
        let mut expected = shown(&customer, &["tenant", "ledger", "marks"]);
        // The record leaves out absent profile fields; the API shows them as null.
        expected["timezone"] = Value::Null;
        expected["locale"] = Value::Null;
        expected["activity"]["order.paid"] = json!({"count": 2, "first_at": "2027-01-15T08:00:00Z",
            "last_at": "2027-01-15T08:00:00Z"});
        let view = serde_json::to_value(CustomerView::of(&customer)).unwrap();
        assert_eq!(view, expected);
    }

    #[test]
    fn messages_and_decisions_are_shown_without_their_tenant() {
        let tenant = TenantId::parse("acme").unwrap();
        let customer_id = CustomerId::parse("c1").unwrap();
        let rule = RuleId::parse("thank-you").unwrap();
        let mut message = Message {
            tenant: tenant.clone(),
            id: MessageId::parse("m1").unwrap(),
            customer_id: customer_id.clone(),
            rule: rule.clone(),
            category: Category::Transactional,
            occurrence: "e1".into(),
            phone: PhoneNumber::parse("+8613800138000", None).unwrap(),
            text: "您好".into(),
            template: None,
            segments: 1,
            status: MessageStatus::Queued,
            reason: None,
            created_at: at(),
            updated_at: at(),
            provider: None,
            provider_id: None,
            sent_at: None,
            delivery: None,
            attempts: 0,
            next_attempt_at: None,
            lease_until: None,
            ignores_suppression: false,
        };
        let view = |m: &Message| serde_json::to_value(MessageView::of(m)).unwrap();
        assert_eq!(view(&message), shown(&message, &["tenant"]));
        message.status = MessageStatus::Failed;
        message.reason = Some("sns: InvalidParameter".into());
        message.provider_id = Some("p-1".into());
        message.attempts = 2;
        message.next_attempt_at = Some(at());
        message.ignores_suppression = true;
        assert_eq!(view(&message), shown(&message, &["tenant"]));
        message.status = MessageStatus::Undelivered;
        message.reason = Some("blocked".into());
        message.provider = Some("sns".into());
        message.sent_at = Some(at());
        message.template = Some(TemplateRef {
            id: "1234567".into(),
            params: vec!["王芳".into()],
        });
        message.delivery = Some(DeliveryReport {
            at: at(),
            provider_status: "Phone carrier has blocked this message".into(),
            price_usd: Some(0.00645),
            parts: Some(1),
            carrier: Some("Example Mobile".into()),
        });
        assert_eq!(view(&message), shown(&message, &["tenant"]));

        for outcome in [
            Outcome::Send {
                text: "您好".into(),
                segments: 1,
                template: None,
            },
            Outcome::Defer {
                until: at(),
                reason: nudge_core::policy::DeferReason::Window,
                text: None,
            },
        ] {
            let decision = DecisionRecord {
                tenant: tenant.clone(),
                customer_id: customer_id.clone(),
                rule: rule.clone(),
                occurrence: "e1".into(),
                due: at(),
                decided_at: at(),
                outcome,
            };
            let view = serde_json::to_value(DecisionView::of(&decision)).unwrap();
            assert_eq!(view, shown(&decision, &["tenant"]));
        }
    }
}
