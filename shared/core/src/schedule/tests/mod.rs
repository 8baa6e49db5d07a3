//! Table-driven tests; expected UTC instants are worked out by hand in the comments (zone
//! transitions checked against `zdump -v`).
mod events;
mod local;
mod state;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::domain::{Customer, CustomerId, Event, EventId, PhoneNumber, Span, TenantId};

fn utc(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

fn time(text: &str) -> NaiveTime {
    NaiveTime::parse_from_str(text, "%H:%M").unwrap()
}

fn zone(name: &str) -> Tz {
    name.parse().unwrap()
}

fn span(text: &str) -> Span {
    Span::parse(text).unwrap()
}

/// A customer in `timezone` (None: the tenant default) with one attribute.
fn customer(timezone: Option<&str>, attribute: &str, value: Value) -> Customer {
    let phone = PhoneNumber::parse("+8613800138000", None).unwrap();
    let created = utc("2020-01-01T00:00:00Z");
    let mut customer = Customer::new(
        TenantId::parse("acme").unwrap(),
        CustomerId::parse("c1").unwrap(),
        phone,
        created,
    );
    customer.timezone = timezone.map(str::to_owned);
    customer.attributes.insert(attribute.to_owned(), value);
    customer
}

fn event(id: &str, event_type: &str, occurred_at: &str) -> Event {
    Event {
        tenant: TenantId::parse("acme").unwrap(),
        event_id: EventId::parse(id).unwrap(),
        customer_id: CustomerId::parse("c1").unwrap(),
        event_type: event_type.to_owned(),
        occurred_at: utc(occurred_at),
        properties: serde_json::Map::new(),
    }
}
