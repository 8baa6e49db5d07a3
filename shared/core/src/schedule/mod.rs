//! Triggers → the next instant a rule is due for a customer.
//!
//! Pure functions of the trigger, the customer and `now` (nothing here reads the clock). Every
//! due instant is rounded up to a whole minute, the granularity of the due index.
//!
//! Defaults where the rulebook leaves a choice:
//! - a date-only attribute is a date in the customer's zone; without `at`, a `date` or `every`
//!   trigger on it is due at local midnight + offset (the send window then defers it);
//! - an RFC 3339 attribute without `at` is exact: offset/interval are added to the instant;
//! - an `anniversary` without `at` is due at 10:00 local ([`DEFAULT_ANNIVERSARY_AT`]), and its
//!   first occurrence is in the year after the attribute's own year;
//! - with `at`, offsets act on the local calendar and clock, DST is resolved last
//!   ([`crate::domain::local_to_utc`]: gap → end of the gap, overlap → earlier instant).
mod events;
mod local;
mod state;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::domain::Customer;
use crate::rulebook::Trigger;

pub(crate) use events::{count_due, event_due};
pub use local::AttrInstant;
pub(crate) use local::{attribute_date, ceil_to_minute};

/// One pending occurrence of a rule for a customer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    /// Identifies the occurrence in the dedupe key: the local due date (`date`, `every`), the
    /// anniversary year (`anniversary`), the RFC 3339 baseline (`inactive`) or the event id.
    pub occurrence: String,
    /// Whole minute, UTC.
    pub due: DateTime<Utc>,
}

/// The earliest occurrence of a state trigger whose (minute-rounded) due instant is at or after
/// `now`; occurrences already past are never returned, so state triggers do not fire
/// retroactively. `None` for event-driven triggers and when the attribute or baseline is missing
/// or unreadable.
///
/// An occurrence due exactly at `now` is still pending: recompute after firing with a `now`
/// past the fired minute (or rely on the dedupe key).
pub(crate) fn next_state_due(
    trigger: &Trigger,
    customer: &Customer,
    default_zone: Tz,
    now: DateTime<Utc>,
) -> Option<Due> {
    let zone = customer.zone(default_zone);
    match trigger {
        Trigger::Date {
            attribute,
            offset,
            at,
        } => state::date(customer, attribute, *offset, *at, zone, now),
        Trigger::Anniversary {
            attribute,
            offset,
            at,
        } => state::anniversary(customer, attribute, *offset, *at, zone, now),
        Trigger::Inactive {
            event_type,
            after,
            at,
        } => state::inactive(customer, event_type, *after, *at, zone, now),
        Trigger::Every {
            attribute,
            interval,
            at,
        } => state::every(customer, attribute, *interval, *at, zone, now),
        Trigger::Event { .. } | Trigger::Count { .. } => None,
    }
}
