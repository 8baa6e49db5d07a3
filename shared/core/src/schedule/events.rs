//! Event-driven triggers (`event`, `count`): decided when an event is ingested.
use chrono::{DateTime, Utc};

use super::local::ceil_to_minute;
use super::Due;
use crate::domain::{Customer, Event, RuleId, Span};
use crate::rulebook::Trigger;

/// `delay` after the event, but never in the past (a late event is handled now).
fn delayed(event: &Event, delay: Span, now: DateTime<Utc>) -> Option<Due> {
    let due = delay.add_to(event.occurred_at)?.max(now);
    Some(Due {
        occurrence: event.event_id.to_string(),
        due: ceil_to_minute(due),
    })
}

/// The occurrence an `event` trigger creates for `event` (its `filter` is the caller's job).
pub(crate) fn event_due(trigger: &Trigger, event: &Event, now: DateTime<Utc>) -> Option<Due> {
    match trigger {
        Trigger::Event {
            event_type, delay, ..
        } if *event_type == event.event_type => delayed(event, *delay, now),
        _ => None,
    }
}

/// The occurrence a `count` trigger creates when `event` completes a burst.
///
/// Call after `event` is recorded in `customer.activity`. Counts the recent events of the type
/// in `(occurred_at − within, occurred_at]` that are newer than the rule's mark (its last fire),
/// so once the caller marks the rule, the rest of the same burst does not fire again.
pub(crate) fn count_due(
    trigger: &Trigger,
    rule_id: &RuleId,
    customer: &Customer,
    event: &Event,
    now: DateTime<Utc>,
) -> Option<Due> {
    let Trigger::Count {
        event_type,
        times,
        within,
        delay,
    } = trigger
    else {
        return None;
    };
    if *event_type != event.event_type {
        return None;
    }
    let recent = &customer.activity.get(event_type)?.recent;
    let window_start = within.negate().add_to(event.occurred_at)?;
    let mark = customer.marks.get(rule_id);
    let counted = recent
        .iter()
        .filter(|t| **t > window_start && **t <= event.occurred_at)
        .filter(|t| mark.is_none_or(|m| *t > m))
        .count();
    // `>=` rather than `==`: a burst that crossed the threshold unmarked (e.g. events ingested
    // out of order) still fires on its next event.
    if counted >= usize::try_from((*times).max(1)).ok()? {
        delayed(event, *delay, now)
    } else {
        None
    }
}
