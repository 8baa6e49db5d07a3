//! Checking a rule's `goal:`: the event that converts its text, the attribution window, an
//! optional CEL filter on the event and the property that holds the conversion's value.
use serde_saphyr::Spanned;

use super::check::{positive_span, Checker};
use super::file::GoalFile;
use super::model::Goal;
use super::rules::event_type;
use crate::domain::Span;

/// Goal windows longer than this would keep touches (and attribute purchases) for a season.
pub(super) const MAX_GOAL_WINDOW_DAYS: i64 = 90;

impl Checker<'_> {
    pub(super) fn goal(&mut self, raw: &Spanned<GoalFile>) -> Option<Goal> {
        let goal = &raw.value;
        let event_type = self.check(&goal.event, |e| event_type(e));
        let within = self.check(&goal.within, |w| window(w));
        let filter = self.condition(goal.filter.as_ref());
        let value = match &goal.value {
            Some(v) => self.check(v, |v| value_path(v)).map(Some),
            None => Some(None),
        };
        Some(Goal {
            event_type: event_type?,
            within: within?,
            filter: filter?,
            value: value?,
        })
    }
}

fn window(text: &str) -> Result<Span, String> {
    let span = positive_span(text)?;
    if span.approx_seconds() > Span::days(MAX_GOAL_WINDOW_DAYS).approx_seconds() {
        return Err(format!(
            "goal window {text:?} is longer than {MAX_GOAL_WINDOW_DAYS}d"
        ));
    }
    Ok(span)
}

/// `properties.amount` or `properties.order.total` → the keys under the event's properties.
fn value_path(text: &str) -> Result<Vec<String>, String> {
    let bad = || {
        format!(
            "goal value {text:?} must name an event property, e.g. properties.amount or \
             properties.order.total"
        )
    };
    let rest = text.strip_prefix("properties.").ok_or_else(bad)?;
    let keys: Vec<String> = rest.split('.').map(str::to_string).collect();
    let valid = keys.iter().all(|k| {
        !k.is_empty()
            && k.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    });
    if valid {
        Ok(keys)
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn windows_are_positive_and_at_most_ninety_days() {
        assert_eq!(window("7d").unwrap(), Span::days(7));
        assert_eq!(window("90d").unwrap(), Span::days(90));
        assert!(window("91d").unwrap_err().contains("longer than 90d"));
        assert!(window("0d").is_err());
        assert!(window("-1d").is_err());
    }

    #[test]
    fn values_name_a_property_path() {
        assert_eq!(value_path("properties.amount").unwrap(), ["amount"]);
        assert_eq!(
            value_path("properties.order.total").unwrap(),
            ["order", "total"]
        );
        for bad in [
            "amount",
            "properties.",
            "properties..x",
            "event.amount",
            "properties.a b",
        ] {
            assert!(value_path(bad).is_err(), "{bad}");
        }
    }
}
