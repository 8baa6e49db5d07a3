//! How simulated customers convert, so the KPI report and the holdout lift can be tried on a
//! laptop: after each text (or holdout decision) of a rule with a goal, a share of the
//! customers sends the rule's goal event some time later. `nudge simulate --conversion`.
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

use nudge_core::domain::{Message, RuleId, Span};
use nudge_core::error::{Error, Result};
use nudge_core::policy::{holdout, SkipReason};
use nudge_core::rulebook::Rulebook;
use nudge_core::service::{message_id, DecisionRecord, EventInput, Outcome};

/// The time from a text to its conversion when the model does not say.
const DEFAULT_AFTER: TimeDelta = TimeDelta::hours(1);

/// One rule's conversion model: `RULE:TEXTED%:HELDOUT%[:AFTER[:VALUE]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConversionModel {
    pub rule: RuleId,
    /// Chance, in basis points, that a texted customer converts.
    pub texted_bp: u32,
    /// Chance, in basis points, that a held-out customer converts.
    pub held_out_bp: u32,
    /// Time from the decision to the goal event.
    pub after: TimeDelta,
    /// The goal event's value (in the goal's `value` property), if any.
    pub value: Option<f64>,
    /// Further properties of the goal event (for the templates and conditions that read it).
    pub properties: Map<String, Value>,
    goal_event: String,
    value_path: Option<Vec<String>>,
}

impl ConversionModel {
    /// Parses `silent-30-days:12%:8%:2d:49.5` against the rulebook: the rule must have a goal
    /// (without a `where`, which a made-up event could not be known to fit), AFTER (default
    /// 1h) must fall inside the goal's window, and a VALUE needs the goal's `value` property.
    pub fn parse(text: &str, rulebook: &Rulebook) -> Result<ConversionModel> {
        let bad = |why: String| Error::invalid("conversion", format!("{text:?}: {why}"));
        let parts: Vec<&str> = text.split(':').collect();
        if !(3..=5).contains(&parts.len()) {
            return Err(bad(
                "write RULE:TEXTED%:HELDOUT%[:AFTER[:VALUE]], e.g. silent-30-days:12%:8%:2d:49.5"
                    .into(),
            ));
        }
        let rule = RuleId::parse(parts[0]).map_err(|e| bad(e.to_string()))?;
        let goal = rulebook
            .rule(&rule)
            .ok_or_else(|| bad(format!("{rule} is not a rule of the rulebook")))?
            .goal
            .as_ref()
            .ok_or_else(|| bad(format!("rule {rule} has no goal to convert to")))?;
        if goal.filter.is_some() {
            return Err(bad(format!(
                "the goal of {rule} has a `where`; put its goal events in the events file instead"
            )));
        }
        let texted_bp = percent(parts[1]).map_err(&bad)?;
        let held_out_bp = percent(parts[2]).map_err(&bad)?;
        let after = match parts.get(3) {
            Some(after) => {
                let span = Span::parse(after).map_err(|e| bad(e.to_string()))?;
                if span.months != 0 || span.seconds <= 0 {
                    return Err(bad(format!(
                        "AFTER {after:?} must be a positive time in s, m, h, d or w"
                    )));
                }
                TimeDelta::seconds(span.seconds)
            }
            None => DEFAULT_AFTER,
        };
        if after.num_seconds() > goal.within.approx_seconds() {
            return Err(bad(format!(
                "AFTER is past the goal window of {rule} ({})",
                goal.within
            )));
        }
        let value = match parts.get(4) {
            Some(value) => {
                if goal.value.is_none() {
                    return Err(bad(format!("the goal of {rule} has no `value` property")));
                }
                let number: f64 = value
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| bad(format!("VALUE {value:?} is not a number ≥ 0")))?;
                Some(number)
            }
            None => None,
        };
        Ok(ConversionModel {
            rule,
            texted_bp,
            held_out_bp,
            after,
            value,
            properties: Map::new(),
            goal_event: goal.event_type.clone(),
            value_path: goal.value.clone(),
        })
    }

    /// The goal event a decision leads to, if the customer converts: texted and held-out
    /// customers convert at their own rates, drawn from the customer and occurrence so a run
    /// is reproducible.
    pub fn conversion(&self, decision: &DecisionRecord) -> Option<EventInput> {
        if decision.rule != self.rule {
            return None;
        }
        let chance = match &decision.outcome {
            Outcome::Send { .. } => self.texted_bp,
            Outcome::Skip {
                reason: SkipReason::Holdout,
                ..
            } => self.held_out_bp,
            _ => return None,
        };
        let key = Message::dedupe_key(&decision.rule, &decision.customer_id, &decision.occurrence);
        if holdout::bucket(&format!("{}#conversion", self.rule), &key) >= chance {
            return None;
        }
        let mut properties = self.properties.clone();
        if let (Some(path), Some(value)) = (&self.value_path, self.value) {
            insert_at(&mut properties, path, Value::from(value));
        }
        Some(EventInput {
            event_id: message_id("conv", &key),
            customer_id: decision.customer_id.to_string(),
            event_type: self.goal_event.clone(),
            occurred_at: Some(self.at(decision.decided_at)),
            properties,
        })
    }

    /// The same model whose goal events also carry `properties`.
    pub fn with_properties(mut self, properties: Map<String, Value>) -> Self {
        self.properties = properties;
        self
    }

    fn at(&self, decided_at: DateTime<Utc>) -> DateTime<Utc> {
        decided_at + self.after
    }
}

/// `12%` or `7.5%` → basis points.
fn percent(text: &str) -> std::result::Result<u32, String> {
    text.strip_suffix('%')
        .and_then(|n| n.parse::<f64>().ok())
        .filter(|n| (0.0..=100.0).contains(n))
        .map(|n| (n * 100.0).round() as u32)
        .ok_or_else(|| format!("{text:?} is not a percentage from 0% to 100%"))
}

/// Puts `value` at `path` (`["order", "total"]` → `{"order": {"total": value}}`).
fn insert_at(map: &mut Map<String, Value>, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_at(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use nudge_core::domain::{CustomerId, TenantId};
    use nudge_core::rulebook;

    const RULES: &str = r#"
tenant: acme
brand: Acme
timezone: UTC
rules:
  - id: win-back
    category: marketing
    trigger: {inactive: order.paid, for: 30d, at: "10:30"}
    holdout: 10%
    goal: {event: order.paid, within: 7d, value: properties.order.total}
    template: "We miss you"
  - id: filtered
    category: marketing
    trigger: {inactive: order.paid, for: 60d, at: "10:30"}
    goal: {event: order.paid, within: 7d, where: 'event.properties.total > 10'}
    template: "Come back"
  - id: thanks
    category: transactional
    trigger: {event: order.paid}
    template: "Thanks"
"#;

    fn book() -> Rulebook {
        rulebook::parse(RULES, "rules.yaml").unwrap()
    }

    fn error(text: &str) -> String {
        ConversionModel::parse(text, &book())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn models_name_a_rule_with_a_goal_rates_a_delay_inside_the_window_and_a_value() {
        let model = ConversionModel::parse("win-back:12%:7.5%:2d:49.9", &book()).unwrap();
        assert_eq!(model.texted_bp, 1200);
        assert_eq!(model.held_out_bp, 750);
        assert_eq!(model.after, TimeDelta::days(2));
        assert_eq!(model.value, Some(49.9));
        let short = ConversionModel::parse("win-back:12%:8%", &book()).unwrap();
        assert_eq!(short.after, TimeDelta::hours(1));
        assert_eq!(short.value, None);

        assert!(error("win-back:12%").contains("RULE:TEXTED%:HELDOUT%"));
        assert!(error("nope:12%:8%").contains("not a rule"));
        assert!(error("thanks:12%:8%").contains("has no goal"));
        assert!(error("filtered:12%:8%").contains("has a `where`"));
        assert!(error("win-back:12:8%").contains("\"12\" is not a percentage"));
        assert!(error("win-back:12%:101%").contains("\"101%\""));
        assert!(error("win-back:12%:8%:8d").contains("past the goal window"));
        assert!(error("win-back:12%:8%:1mo").contains("positive time"));
        assert!(error("win-back:12%:8%:1h:-3").contains("VALUE"));
        assert!(error("win-back:12%:8%:1x").contains("unknown unit"));
    }

    fn decision(customer: &str, outcome: Outcome) -> DecisionRecord {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 2, 10, 30, 0).unwrap();
        DecisionRecord {
            tenant: TenantId::parse("acme").unwrap(),
            customer_id: CustomerId::parse(customer).unwrap(),
            rule: RuleId::parse("win-back").unwrap(),
            occurrence: "2026-03-02".into(),
            due: at,
            decided_at: at,
            outcome,
        }
    }

    fn sent() -> Outcome {
        Outcome::Send {
            text: "We miss you".into(),
            segments: 1,
            template: None,
        }
    }

    fn held_out() -> Outcome {
        Outcome::Skip {
            reason: SkipReason::Holdout,
            text: None,
        }
    }

    #[test]
    fn texted_and_held_out_customers_convert_at_their_own_rates_reproducibly() {
        let model = ConversionModel::parse("win-back:30%:10%:2h:49.9", &book()).unwrap();
        let count = |outcome: fn() -> Outcome| {
            (0..10_000)
                .filter(|i| {
                    model
                        .conversion(&decision(&format!("c{i}"), outcome()))
                        .is_some()
                })
                .count()
        };
        let texted = count(sent);
        let held = count(held_out);
        assert!((2_800..3_200).contains(&texted), "{texted}");
        assert!((850..1_150).contains(&held), "{held}");

        let extra = serde_json::json!({"order_id": "SIM", "order": {"items": 2}});
        let model = model.with_properties(extra.as_object().unwrap().clone());
        let converting = (0..100)
            .map(|i| decision(&format!("c{i}"), sent()))
            .find_map(|d| model.conversion(&d))
            .unwrap();
        assert_eq!(converting.event_type, "order.paid");
        assert_eq!(
            converting.occurred_at.unwrap(),
            chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 3, 2, 12, 30, 0).unwrap()
        );
        assert_eq!(
            Value::Object(converting.properties.clone()),
            serde_json::json!({"order_id": "SIM", "order": {"items": 2, "total": 49.9}})
        );
        let again = model
            .conversion(&decision(&converting.customer_id, sent()))
            .unwrap();
        assert_eq!(again.event_id, converting.event_id);

        let deferred = Outcome::Skip {
            reason: SkipReason::Exit,
            text: None,
        };
        assert!((0..100).all(|i| model
            .conversion(&decision(&format!("c{i}"), deferred.clone()))
            .is_none()));
    }
}
