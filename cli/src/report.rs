//! The simulation report: per rule outcomes, per-customer pressure and a daily chart.
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use nudge_core::service::Outcome;
use nudge_local::simulation::SimulationResult;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

#[derive(Debug, Default, Serialize)]
pub struct RuleStats {
    pub sent: u64,
    pub deferred: u64,
    pub skipped: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
pub struct Summary {
    pub customers: usize,
    pub days: u32,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub total: RuleStats,
    pub rules: BTreeMap<String, RuleStats>,
    /// Texts accepted by the (simulated) SMS provider.
    pub accepted_by_provider: u64,
    /// Of those, reported delivered by their receipts.
    pub delivered: u32,
    /// Reported not delivered, per reason.
    pub undelivered: BTreeMap<String, u64>,
    /// `delivered / (delivered + undelivered)`; None before any receipt.
    pub delivery_rate: Option<f64>,
    pub suppressed_at_send: u32,
    pub max_per_customer_per_week: usize,
    pub max_per_customer_per_30_days: usize,
    /// Texts sent per local day of the tenant's zone.
    pub per_day: BTreeMap<NaiveDate, u64>,
    /// The KPI report of the run's days (UTC), with conversions and the holdout lift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kpis: Option<nudge_core::service::KpiReport>,
}

/// The days of a report command: `--from` (default: 6 days before `--to`) to `--to`
/// (default: `today`), both included, checked as the API checks them; a bad range names
/// its flag.
pub fn report_days(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> anyhow::Result<(NaiveDate, NaiveDate)> {
    let to = to.unwrap_or(today);
    let from = from.unwrap_or(to - TimeDelta::days(6));
    if let Err(err) = nudge_core::service::report::check_range(from, to) {
        match err {
            nudge_core::Error::Invalid { field, message } => {
                anyhow::bail!("--{field}: {message}")
            }
            other => return Err(other.into()),
        }
    }
    Ok((from, to))
}

/// `k1=v1 k2=v2`, or `-` when empty.
pub fn key_values<K: std::fmt::Display, V: std::fmt::Display>(map: &BTreeMap<K, V>) -> String {
    if map.is_empty() {
        return "-".to_string();
    }
    map.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn undelivered_total(result: &SimulationResult) -> u32 {
    u32::try_from(result.undelivered.values().sum::<u64>()).unwrap_or(u32::MAX)
}

fn delivery_rate(result: &SimulationResult) -> Option<f64> {
    let settled = result.receipts.recorded;
    (settled > 0)
        .then(|| f64::from(settled - undelivered_total(result).min(settled)) / f64::from(settled))
}

/// The largest number of instants inside any window of `width` (instants sorted).
fn max_in_window(times: &[DateTime<Utc>], width: TimeDelta) -> usize {
    let mut best = 0;
    let mut first = 0;
    for (last, t) in times.iter().enumerate() {
        while *t - times[first] >= width {
            first += 1;
        }
        best = best.max(last - first + 1);
    }
    best
}

impl Summary {
    pub fn from_result(result: &SimulationResult, customers: usize, days: u32, zone: Tz) -> Self {
        let mut total = RuleStats::default();
        let mut rules: BTreeMap<String, RuleStats> = BTreeMap::new();
        let mut per_customer: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
        let mut per_day: BTreeMap<NaiveDate, u64> = BTreeMap::new();
        let mut day = result.start.with_timezone(&zone).date_naive();
        while day <= result.end.with_timezone(&zone).date_naive() {
            per_day.insert(day, 0);
            day = day.succ_opt().unwrap_or(day);
            if day == NaiveDate::MAX {
                break;
            }
        }
        for d in &result.decisions {
            let rule = rules.entry(d.rule.to_string()).or_default();
            for stats in [&mut total, rule] {
                match &d.outcome {
                    Outcome::Send { .. } => stats.sent += 1,
                    Outcome::Defer { .. } => stats.deferred += 1,
                    Outcome::Skip { reason, .. } => {
                        *stats.skipped.entry(reason.code().to_string()).or_default() += 1
                    }
                }
            }
            if let Outcome::Send { .. } = d.outcome {
                per_customer
                    .entry(d.customer_id.as_str())
                    .or_default()
                    .push(d.decided_at);
                *per_day
                    .entry(d.decided_at.with_timezone(&zone).date_naive())
                    .or_default() += 1;
            }
        }
        let mut max_week = 0;
        let mut max_month = 0;
        for times in per_customer.values_mut() {
            times.sort();
            max_week = max_week.max(max_in_window(times, TimeDelta::days(7)));
            max_month = max_month.max(max_in_window(times, TimeDelta::days(30)));
        }
        Summary {
            customers,
            days,
            start: result.start,
            end: result.end,
            total,
            rules,
            accepted_by_provider: result.accepted_by_provider,
            delivered: result
                .receipts
                .recorded
                .saturating_sub(undelivered_total(result)),
            undelivered: result.undelivered.clone(),
            delivery_rate: delivery_rate(result),
            suppressed_at_send: result.sends.suppressed,
            max_per_customer_per_week: max_week,
            max_per_customer_per_30_days: max_month,
            per_day,
            kpis: None,
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<28} {:>8} {:>9}  skipped",
            "rule", "sent", "deferred"
        );
        let rows = self
            .rules
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain([("TOTAL", &self.total)]);
        for (name, stats) in rows {
            let skipped = key_values(&stats.skipped);
            let _ = writeln!(
                out,
                "{name:<28} {:>8} {:>9}  {skipped}",
                stats.sent, stats.deferred
            );
        }
        let _ = writeln!(
            out,
            "\naccepted by the provider: {}   suppressed at send time: {}",
            self.accepted_by_provider, self.suppressed_at_send
        );
        let rate = self
            .delivery_rate
            .map_or("-".to_string(), |r| format!("{:.1} %", r * 100.0));
        let _ = writeln!(
            out,
            "delivered: {}   undelivered: {}   delivery rate: {rate}",
            self.delivered,
            key_values(&self.undelivered)
        );
        let _ = writeln!(
            out,
            "max texts per customer: {} in any 7 days, {} in any 30 days\n",
            self.max_per_customer_per_week, self.max_per_customer_per_30_days
        );
        let _ = writeln!(out, "texts per day");
        let peak = self.per_day.values().copied().max().unwrap_or(0).max(1);
        for (day, count) in &self.per_day {
            let width = (count * 50).div_ceil(peak) as usize;
            let _ = writeln!(out, "{day} {:>7} {}", count, "█".repeat(width));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window_maximum_counts_instants_less_than_width_apart() {
        let at = |d: u32| Utc.with_ymd_and_hms(2026, 1, d, 10, 0, 0).unwrap();
        let times = [at(1), at(3), at(7), at(8), at(20)];
        // 1st, 3rd and 7th are within 7 days; the 8th is exactly 7 days after the 1st.
        assert_eq!(max_in_window(&times, TimeDelta::days(7)), 3);
        assert_eq!(max_in_window(&times, TimeDelta::days(30)), 5);
        assert_eq!(max_in_window(&[], TimeDelta::days(7)), 0);
    }
}
