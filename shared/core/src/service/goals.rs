//! Goals: attributing a customer's goal events (a purchase, a booking) to the texts of rules
//! that declare that goal, incrementally at ingest.
//!
//! Every decision of a rule with a goal — a text queued, or a customer held out — leaves a
//! [`Touch`] on the customer. A goal event converts the **last** touch before it whose
//! rule's goal it is (type, `where`) and whose window it falls in (inclusive), provided that
//! touch has not converted already: each text converts at most once, and a later purchase
//! does not credit an older text that the customer was texted after. A held-out touch
//! converts the same way, against the instant the customer would have been texted, which is
//! what makes the holdout comparison fair. The conversion is counted on the day of the touch,
//! so per day `converted ÷ texted` is the conversion rate of that day's texts.
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use super::counter::Counter;
use crate::domain::{Customer, Event, MessageId, RuleId, Touch};
use crate::ports::{Counters, StatsRow};
use crate::rulebook::{Goal, Rule, Rulebook};

/// A goal event attributed to a touch.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Conversion {
    pub rule: RuleId,
    /// The message of the decision that converted (queued, or skipped `holdout`).
    pub message: MessageId,
    pub touched_at: DateTime<Utc>,
    pub held_out: bool,
    /// The goal value in thousandths (0 without a value property).
    pub value_milli: i64,
}

impl Conversion {
    /// The counters the conversion adds, on the day of the touch.
    pub(crate) fn stats(&self) -> StatsRow {
        let (count, value) = if self.held_out {
            (
                Counter::HeldOutConverted,
                Counter::HeldOutConversionValueMilli,
            )
        } else {
            (Counter::Converted, Counter::ConversionValueMilli)
        };
        let mut counters = Counters::from([(count.name(), 1)]);
        if self.value_milli != 0 {
            counters.insert(value.name(), self.value_milli);
        }
        StatsRow {
            day: self.day(),
            rule: self.rule.to_string(),
            counters,
        }
    }

    fn day(&self) -> NaiveDate {
        self.touched_at.date_naive()
    }
}

/// Records a decision of `rule` on the customer when the rule has a goal (else nothing), and
/// forgets touches older than the rulebook's longest goal window.
pub(crate) fn record_touch(
    rulebook: &Rulebook,
    rule: &Rule,
    customer: &mut Customer,
    message: &MessageId,
    at: DateTime<Utc>,
    held_out: bool,
) {
    if rule.goal.is_none() {
        return;
    }
    let keep_since = rulebook
        .longest_goal_window()
        .and_then(|window| window.negate().add_to(at))
        .unwrap_or(at);
    let touch = Touch {
        rule: rule.id.clone(),
        at,
        message: message.clone(),
        held_out,
        converted_at: None,
    };
    customer.record_touch(touch, keep_since);
}

/// Attributes `event` to the customer's last touch it converts (marking the touch), if any.
pub(crate) fn attribute(
    rulebook: &Rulebook,
    customer: &mut Customer,
    event: &Event,
    now: DateTime<Utc>,
) -> Option<Conversion> {
    let context = std::cell::OnceCell::new();
    let event_context = std::cell::OnceCell::new();
    let fits = |touch: &Touch, goal: &Goal| {
        if goal.event_type != event.event_type || !within(goal, touch, event.occurred_at) {
            return false;
        }
        let Some(filter) = &goal.filter else {
            return true;
        };
        let customer_context = context.get_or_init(|| customer.to_context());
        let event_context = event_context.get_or_init(|| event.to_context());
        filter
            .eval(customer_context, Some(event_context), now)
            .unwrap_or_else(|err| {
                tracing::warn!(rule = %touch.rule, error = %err, "goal filter failed");
                false
            })
    };
    let (last, goal) = customer
        .touches
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, touch)| {
            let goal = rulebook.rule(&touch.rule)?.goal.as_ref()?;
            fits(touch, goal).then_some((i, goal))
        })?;
    let touch = &mut customer.touches[last];
    if touch.converted_at.is_some() {
        return None;
    }
    touch.converted_at = Some(event.occurred_at);
    Some(Conversion {
        rule: touch.rule.clone(),
        message: touch.message.clone(),
        touched_at: touch.at,
        held_out: touch.held_out,
        value_milli: value_milli(goal, event),
    })
}

/// Whether `at` falls in the goal window of the touch: from the touch to `within` after it,
/// both ends included.
fn within(goal: &Goal, touch: &Touch, at: DateTime<Utc>) -> bool {
    let end = goal.within.add_to(touch.at);
    at >= touch.at && end.is_some_and(|end| at <= end)
}

/// The goal value of the event in thousandths: a number, or a text holding one (`"59.90"`).
/// A value that is missing or not a number counts 0, with a warning: the conversion itself
/// is real.
fn value_milli(goal: &Goal, event: &Event) -> i64 {
    let Some(path) = &goal.value else {
        return 0;
    };
    // The rulebook check gives at least one key.
    let found = path.split_first().and_then(|(first, rest)| {
        rest.iter()
            .try_fold(event.properties.get(first)?, |at, key| at.get(key))
    });
    let number = match found {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(text)) => text.trim().parse::<f64>().ok(),
        _ => None,
    };
    match number.filter(|n| n.is_finite()) {
        // Saturating: an absurd value cannot wrap a counter negative.
        Some(n) => (n * 1000.0).round() as i64,
        None => {
            tracing::warn!(
                event = %event.event_id,
                property = %path.join("."),
                "goal event without a numeric value; its conversion counts 0"
            );
            0
        }
    }
}

#[cfg(test)]
#[path = "goals_tests.rs"]
mod tests;
