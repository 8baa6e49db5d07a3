//! The KPI report: per rule and per day, and in total, what the texts did — sent, delivered,
//! replies, opt-outs, conversions and their value — and for rules with a holdout, how the
//! held-out customers converted and the lift of the texts over them. Built from the stats
//! counters alone (a few reads per day of the range).
//!
//! Rates, each None while its denominator is 0:
//! - delivery rate = delivered ÷ (delivered + undelivered): of the texts with a receipt;
//! - response rate = replied ÷ sent, opt-out rate = opted out ÷ sent;
//! - conversion rate = converted ÷ texted (decided "send"), held-out conversion rate =
//!   held-out converted ÷ held out: both count decisions, so the two groups compare like
//!   for like whatever became of a text after it was queued.
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

use super::lift::Lift;
use super::report::{check_range, rate, report_order, ANSWER_RULE_PREFIX};
use super::{Counter, Engine};
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::policy::SkipReason;
use crate::ports::{CounterStore, StatsRow};
use crate::rulebook::Rulebook;

/// The KPIs of some stats rows (a rule's day, a rule's range, a tenant's range).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Kpis {
    /// Texts decided "send" (queued).
    pub texted: i64,
    /// Texts the provider accepted.
    pub sent: i64,
    pub delivered: i64,
    pub undelivered: i64,
    pub delivery_rate: Option<f64>,
    pub replied: i64,
    pub response_rate: Option<f64>,
    pub opted_out: i64,
    pub opt_out_rate: Option<f64>,
    pub converted: i64,
    pub conversion_rate: Option<f64>,
    /// The goal value of the conversions (the unit of the goal's value property).
    pub conversion_value: f64,
    /// Customers held out (decisions skipped `holdout`).
    pub held_out: i64,
    pub held_out_converted: i64,
    pub held_out_conversion_rate: Option<f64>,
    pub held_out_conversion_value: f64,
}

impl Kpis {
    fn of<'a>(rows: impl IntoIterator<Item = &'a StatsRow>) -> Kpis {
        let mut kpis = Kpis::default();
        let (mut value_milli, mut held_out_value_milli) = (0i64, 0i64);
        // Skip counters do not parse back (see `Counter::parse`).
        let held_out = Counter::Skipped(SkipReason::Holdout).name();
        for (name, value) in rows.into_iter().flat_map(|r| &r.counters) {
            let value = *value;
            match Counter::parse(name) {
                Some(Counter::Queued) => kpis.texted += value,
                Some(Counter::Sent) => kpis.sent += value,
                Some(Counter::Delivered) => kpis.delivered += value,
                Some(Counter::Undelivered) => kpis.undelivered += value,
                Some(Counter::Replied) => kpis.replied += value,
                Some(Counter::OptedOut) => kpis.opted_out += value,
                Some(Counter::Converted) => kpis.converted += value,
                Some(Counter::ConversionValueMilli) => value_milli += value,
                Some(Counter::HeldOutConverted) => kpis.held_out_converted += value,
                Some(Counter::HeldOutConversionValueMilli) => held_out_value_milli += value,
                None if *name == held_out => kpis.held_out += value,
                _ => {}
            }
        }
        kpis.delivery_rate = rate(kpis.delivered, kpis.delivered + kpis.undelivered);
        kpis.response_rate = rate(kpis.replied, kpis.sent);
        kpis.opt_out_rate = rate(kpis.opted_out, kpis.sent);
        kpis.conversion_rate = rate(kpis.converted, kpis.texted);
        kpis.held_out_conversion_rate = rate(kpis.held_out_converted, kpis.held_out);
        kpis.conversion_value = value_milli as f64 / 1000.0;
        kpis.held_out_conversion_value = held_out_value_milli as f64 / 1000.0;
        kpis
    }

    /// The lift of the texts over the holdout; None without held-out customers.
    fn lift(&self) -> Option<Lift> {
        Lift::of(
            self.texted,
            self.converted,
            self.held_out,
            self.held_out_converted,
        )
    }
}

/// One day of a rule (or of the tenant).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DayKpis {
    pub day: NaiveDate,
    #[serde(flatten)]
    pub kpis: Kpis,
}

/// One rule over the range: its goal, its totals, the lift over its holdout and its days
/// (only days with counts).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleKpis {
    pub rule: String,
    /// The rule's goal as written (`order.paid within 7d`); None without one.
    pub goal: Option<String>,
    #[serde(flatten)]
    pub total: Kpis,
    pub lift: Option<Lift>,
    pub days: Vec<DayKpis>,
}

/// The KPI report of a tenant, `from` and `to` inclusive (UTC days, as stats are kept).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KpiReport {
    pub tenant: TenantId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The rulebook's rules in rulebook order, then rules no longer in the rulebook that
    /// still have counts in the range (texts answering replies are left out); one rule when
    /// the report was asked for one.
    pub rules: Vec<RuleKpis>,
    /// Every listed rule together.
    pub total: Kpis,
    /// Every listed rule together, per day with counts.
    pub days: Vec<DayKpis>,
}

/// The columns of [`KpiReport::to_csv`].
pub const CSV_COLUMNS: [&str; 21] = [
    "rule",
    "day",
    "texted",
    "sent",
    "delivered",
    "undelivered",
    "delivery_rate",
    "replied",
    "response_rate",
    "opted_out",
    "opt_out_rate",
    "converted",
    "conversion_rate",
    "conversion_value",
    "held_out",
    "held_out_converted",
    "held_out_conversion_rate",
    "held_out_conversion_value",
    "lift",
    "lift_ci_low",
    "lift_ci_high",
];

impl KpiReport {
    /// The report as a tracking table: per rule one row per day with counts, then the rule's
    /// row for the whole range (`day` = `from..to`, with the lift), then the same for the
    /// total (`rule` = `total`). Rates are fractions; empty cells have no value.
    pub fn to_csv(&self) -> String {
        let range = format!("{}..{}", self.from, self.to);
        let mut out = CSV_COLUMNS.join(",");
        out.push('\n');
        let mut line = |rule: &str, day: &str, kpis: &Kpis, lift: Option<&Lift>| {
            let rate = |r: Option<f64>| r.map_or(String::new(), |r| format!("{r:.6}"));
            let count = |n: i64| n.to_string();
            let cells = [
                csv_cell(rule),
                day.to_string(),
                count(kpis.texted),
                count(kpis.sent),
                count(kpis.delivered),
                count(kpis.undelivered),
                rate(kpis.delivery_rate),
                count(kpis.replied),
                rate(kpis.response_rate),
                count(kpis.opted_out),
                rate(kpis.opt_out_rate),
                count(kpis.converted),
                rate(kpis.conversion_rate),
                format!("{:.3}", kpis.conversion_value),
                count(kpis.held_out),
                count(kpis.held_out_converted),
                rate(kpis.held_out_conversion_rate),
                format!("{:.3}", kpis.held_out_conversion_value),
                rate(lift.map(|l| l.absolute)),
                rate(lift.map(|l| l.absolute_ci.low)),
                rate(lift.map(|l| l.absolute_ci.high)),
            ];
            out.push_str(&cells.join(","));
            out.push('\n');
        };
        for rule in &self.rules {
            for day in &rule.days {
                line(&rule.rule, &day.day.to_string(), &day.kpis, None);
            }
            line(&rule.rule, &range, &rule.total, rule.lift.as_ref());
        }
        for day in &self.days {
            line("total", &day.day.to_string(), &day.kpis, None);
        }
        line("total", &range, &self.total, None);
        out
    }
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break (rule ids never do,
/// but a report must not break on one that was valid once).
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl<S: CounterStore + ?Sized> Engine<S> {
    /// Builds the KPI report of `tenant` from `from` to `to`, of every rule or of `rule`
    /// only (a rule of the rulebook, or one that still has counts in the range).
    pub async fn kpi_report(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
        rule: Option<&str>,
    ) -> Result<KpiReport> {
        check_range(from, to)?;
        let rulebook = self.rulebook(tenant)?.clone();
        let mut per_rule: BTreeMap<String, Vec<StatsRow>> = BTreeMap::new();
        for row in self.store.stats(tenant, from, to).await? {
            if !row.rule.starts_with(ANSWER_RULE_PREFIX) {
                per_rule.entry(row.rule.clone()).or_default().push(row);
            }
        }
        let mut order = report_order(&rulebook, &[], per_rule.keys());
        if let Some(wanted) = rule {
            if !order.iter().any(|r| r == wanted) {
                return Err(Error::invalid(
                    "rule",
                    format!(
                        "{wanted:?} is not a rule of the rulebook and has no counts in the range"
                    ),
                ));
            }
            order.retain(|r| r == wanted);
        }
        let mut all: Vec<StatsRow> = Vec::new();
        let rules = order
            .into_iter()
            .map(|id| {
                let rows = per_rule.remove(&id).unwrap_or_default();
                let total = Kpis::of(&rows);
                let kpis = RuleKpis {
                    goal: goal_text(&rulebook, &id),
                    lift: total.lift(),
                    total,
                    days: per_day(&rows),
                    rule: id,
                };
                all.extend(rows);
                kpis
            })
            .collect();
        Ok(KpiReport {
            tenant: tenant.clone(),
            from,
            to,
            rules,
            total: Kpis::of(&all),
            days: per_day(&all),
        })
    }
}

/// The KPIs per day of `rows`, in day order (days without rows are left out).
fn per_day(rows: &[StatsRow]) -> Vec<DayKpis> {
    let mut days: BTreeMap<NaiveDate, Vec<&StatsRow>> = BTreeMap::new();
    for row in rows {
        days.entry(row.day).or_default().push(row);
    }
    days.into_iter()
        .map(|(day, rows)| DayKpis {
            day,
            kpis: Kpis::of(rows),
        })
        .collect()
}

/// `order.paid within 7d` for a rule with a goal.
fn goal_text(rulebook: &Rulebook, rule: &str) -> Option<String> {
    let rule = rulebook.rules.iter().find(|r| r.id.as_str() == rule)?;
    let goal = rule.goal.as_ref()?;
    Some(format!("{} within {}", goal.event_type, goal.within))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(day: u32, counters: &[(&str, i64)]) -> StatsRow {
        StatsRow {
            day: NaiveDate::from_ymd_opt(2026, 3, day).unwrap(),
            rule: "winback".into(),
            counters: counters.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn kpis_add_counters_and_compute_every_rate() {
        let rows = [
            row(
                1,
                &[
                    ("queued", 100),
                    ("sent", 98),
                    ("delivered", 90),
                    ("undelivered", 5),
                    ("replied", 10),
                    ("opted_out", 1),
                    ("converted", 12),
                    ("conversion_value_milli", 600_500),
                    ("skipped_holdout", 20),
                    ("held_out_converted", 1),
                    ("held_out_conversion_value_milli", 30_000),
                    ("skipped_cap_per_week", 7),
                ],
            ),
            row(2, &[("queued", 100), ("sent", 100), ("converted", 8)]),
        ];
        let kpis = Kpis::of(&rows);
        assert_eq!(
            (kpis.texted, kpis.sent, kpis.delivered, kpis.undelivered),
            (200, 198, 90, 5)
        );
        assert_eq!(kpis.delivery_rate, Some(90.0 / 95.0));
        assert_eq!(kpis.response_rate, Some(10.0 / 198.0));
        assert_eq!(kpis.opt_out_rate, Some(1.0 / 198.0));
        assert_eq!(kpis.conversion_rate, Some(0.1));
        assert_eq!(kpis.conversion_value, 600.5);
        assert_eq!((kpis.held_out, kpis.held_out_converted), (20, 1));
        assert_eq!(kpis.held_out_conversion_rate, Some(0.05));
        assert_eq!(kpis.held_out_conversion_value, 30.0);
        assert!(kpis.lift().is_some());
        let empty = Kpis::of(&[]);
        assert_eq!(empty.delivery_rate, None);
        assert_eq!(empty.conversion_rate, None);
        assert_eq!(empty.lift(), None);
    }

    #[test]
    fn days_are_in_order_and_csv_cells_are_quoted_when_needed() {
        let rows = [
            row(3, &[("queued", 1)]),
            row(1, &[("queued", 2)]),
            row(3, &[("queued", 4)]),
        ];
        let days = per_day(&rows);
        let texted: Vec<_> = days
            .iter()
            .map(|d| (d.day.to_string(), d.kpis.texted))
            .collect();
        assert_eq!(
            texted,
            [("2026-03-01".to_string(), 2), ("2026-03-03".to_string(), 5)]
        );
        assert_eq!(csv_cell("winback"), "winback");
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}
