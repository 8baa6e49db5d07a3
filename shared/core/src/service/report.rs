//! The reply report of a tenant over a range of days: per rule the texts sent, the replies, the
//! opt-outs and the opt-out rate, the keywords customers answered with, and the free-text
//! replies customers wrote most often. Built from the stats counters and the reply texts the
//! reply service records, so it costs a few reads per day of the range.
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

use super::reply::UNATTRIBUTED_REPLIES;
use super::{Counter, Engine};
use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::policy::SkipReason;
use crate::ports::{CounterStore, Counters, ReplyTextCount, StatsRow};
use crate::rulebook::Rulebook;

/// Most days one report (or stats request) covers.
pub const MAX_REPORT_DAYS: i64 = 366;
/// Free-text replies listed when the caller does not say.
pub const DEFAULT_TOP_TEXTS: usize = 10;
/// Most free-text replies one report lists.
pub const MAX_TOP_TEXTS: usize = 100;
/// Rules whose texts answer replies (opt-out confirmations, help, auto-answers) start with this;
/// they are not campaigns and stay out of the report.
pub(crate) const ANSWER_RULE_PREFIX: &str = "reply.";

/// `part ÷ whole`; None when `whole` is 0 (no rate before anything was counted).
pub(crate) fn rate(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Checks a report range: `from` not after `to`, at most [`MAX_REPORT_DAYS`] days.
pub fn check_range(from: NaiveDate, to: NaiveDate) -> Result<()> {
    if from > to {
        return Err(Error::invalid("from", "must not be after to"));
    }
    if (to - from).num_days() >= MAX_REPORT_DAYS {
        return Err(Error::invalid(
            "from",
            format!("at most {MAX_REPORT_DAYS} days per request"),
        ));
    }
    Ok(())
}

/// The replies to one rule's texts (or, for `rule` = `replies`, to no known text).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RuleReplies {
    pub rule: String,
    pub sent: i64,
    pub replied: i64,
    pub opted_out: i64,
    /// `opted_out / sent`; None when nothing was sent.
    pub opt_out_rate: Option<f64>,
    /// Replies per menu keyword.
    pub keywords: BTreeMap<String, i64>,
    pub free_text: i64,
}

impl RuleReplies {
    fn add(&mut self, counters: &Counters) {
        for (name, value) in counters {
            match Counter::parse(name) {
                Some(Counter::Sent) => self.sent += value,
                Some(Counter::Replied) => self.replied += value,
                Some(Counter::OptedOut) => self.opted_out += value,
                Some(Counter::FreeText) => self.free_text += value,
                Some(Counter::Keyword(keyword)) => {
                    *self.keywords.entry(keyword).or_default() += value;
                }
                _ => {}
            }
        }
    }

    fn merge(&mut self, other: &RuleReplies) {
        self.sent += other.sent;
        self.replied += other.replied;
        self.opted_out += other.opted_out;
        self.free_text += other.free_text;
        for (keyword, value) in &other.keywords {
            *self.keywords.entry(keyword.clone()).or_default() += value;
        }
    }

    fn finish(mut self) -> Self {
        self.opt_out_rate = rate(self.opted_out, self.sent);
        self
    }
}

/// What delivery receipts said about the texts of some stats rows (a period, a rule).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DeliverySummary {
    /// Texts the provider accepted.
    pub sent: i64,
    pub delivered: i64,
    pub undelivered: i64,
    /// Undelivered texts per reason code (`unreachable`, `blocked`, …).
    pub undelivered_by_reason: BTreeMap<String, i64>,
    /// Sent texts no receipt has settled yet (receipts can take up to 72 hours).
    pub awaiting_receipt: i64,
    /// Sent texts no receipt settled within 72 hours (now `unknown`).
    pub no_receipt: i64,
    /// Numbers given up on (`policy.number_hygiene`), per reason code.
    pub numbers_invalid: BTreeMap<String, i64>,
    /// Texts skipped because their number had been given up on.
    pub skipped_number_invalid: i64,
    /// `delivered / (delivered + undelivered)`: the share of the texts with a receipt that
    /// reached the phone; None before any receipt.
    pub delivery_rate: Option<f64>,
    /// Message parts of the receipted texts.
    pub parts: i64,
    /// What the provider charged for them, where it says (USD).
    pub cost_usd: f64,
}

impl DeliverySummary {
    pub fn of<'a>(rows: impl IntoIterator<Item = &'a StatsRow>) -> Self {
        let mut summary = DeliverySummary::default();
        let mut cost_micro_usd = 0i64;
        let skipped_number_invalid = Counter::Skipped(SkipReason::NumberInvalid).name();
        for row in rows {
            for (name, value) in &row.counters {
                match Counter::parse(name) {
                    Some(Counter::Sent) => summary.sent += value,
                    Some(Counter::Delivered) => summary.delivered += value,
                    Some(Counter::Undelivered) => summary.undelivered += value,
                    Some(Counter::UndeliveredFor(reason)) => {
                        *summary
                            .undelivered_by_reason
                            .entry(reason.code().to_string())
                            .or_default() += value;
                    }
                    Some(Counter::NoReceipt) => summary.no_receipt += value,
                    // Skip counters do not parse back (see `Counter::parse`).
                    None if *name == skipped_number_invalid => {
                        summary.skipped_number_invalid += value;
                    }
                    Some(Counter::NumberInvalid(reason)) => {
                        *summary
                            .numbers_invalid
                            .entry(reason.code().to_string())
                            .or_default() += value;
                    }
                    Some(Counter::Parts) => summary.parts += value,
                    Some(Counter::CostMicroUsd) => cost_micro_usd += value,
                    _ => {}
                }
            }
        }
        let receipted = summary.delivered + summary.undelivered;
        summary.awaiting_receipt = (summary.sent - receipted - summary.no_receipt).max(0);
        summary.delivery_rate = rate(summary.delivered, receipted);
        summary.cost_usd = cost_micro_usd as f64 / 1_000_000.0;
        summary
    }
}

/// The reply report of a tenant, `from` and `to` inclusive (UTC days, as stats are kept).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RepliesReport {
    pub tenant: TenantId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The rulebook's rules in rulebook order, then `replies` (replies to no known text), then
    /// rules no longer in the rulebook that still have counts in the range.
    pub rules: Vec<RuleReplies>,
    pub total: RuleReplies,
    /// Replies per keyword over every rule.
    pub keywords: BTreeMap<String, i64>,
    /// The most frequent free-text replies (normalised), most frequent first.
    pub top_free_text: Vec<ReplyTextCount>,
}

impl<S: CounterStore + ?Sized> Engine<S> {
    /// Builds the reply report of `tenant` from `from` to `to`, listing at most `top` free-text
    /// replies (capped at [`MAX_TOP_TEXTS`]).
    pub async fn replies_report(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
        top: usize,
    ) -> Result<RepliesReport> {
        check_range(from, to)?;
        let rulebook = self.rulebook(tenant)?.clone();
        let mut per_rule: BTreeMap<String, RuleReplies> = BTreeMap::new();
        for row in self.store.stats(tenant, from, to).await? {
            if row.rule.starts_with(ANSWER_RULE_PREFIX) {
                continue;
            }
            per_rule
                .entry(row.rule.clone())
                .or_default()
                .add(&row.counters);
        }
        let order = report_order(&rulebook, &[UNATTRIBUTED_REPLIES], per_rule.keys());
        let mut total = RuleReplies {
            rule: "total".into(),
            ..RuleReplies::default()
        };
        let rules: Vec<RuleReplies> = order
            .into_iter()
            .map(|rule| {
                let mut row = per_rule.remove(&rule).unwrap_or_default();
                row.rule = rule;
                total.merge(&row);
                row.finish()
            })
            .collect();
        let top_free_text = self
            .store
            .top_reply_texts(tenant, from, to, top.min(MAX_TOP_TEXTS))
            .await?;
        Ok(RepliesReport {
            tenant: tenant.clone(),
            from,
            to,
            rules,
            keywords: total.keywords.clone(),
            total: total.finish(),
            top_free_text,
        })
    }
}

/// The rows of a per-rule report: the rulebook's rules in rulebook order, then `extra`, then
/// every other rule with counts (rules no longer in the rulebook, answers to replies).
pub(crate) fn report_order<'a>(
    rulebook: &Rulebook,
    extra: &[&str],
    counted: impl Iterator<Item = &'a String>,
) -> Vec<String> {
    let mut order: Vec<String> = rulebook.rules.iter().map(|r| r.id.to_string()).collect();
    order.extend(extra.iter().map(|rule| rule.to_string()));
    let others: Vec<String> = counted
        .filter(|rule| !order.contains(rule))
        .cloned()
        .collect();
    order.extend(others);
    order
}

/// One rule's delivery in a [`DeliveryReport`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleDelivery {
    pub rule: String,
    #[serde(flatten)]
    pub delivery: DeliverySummary,
}

/// What became of a tenant's texts from `from` to `to` (UTC days, as stats are kept): per rule
/// and in total, sent, delivered, undelivered by reason, awaiting a receipt, the delivery
/// rate, parts and cost, and the numbers given up on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DeliveryReport {
    pub tenant: TenantId,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The rulebook's rules, then the rules of other texts with counts (answers to replies,
    /// rules no longer in the rulebook).
    pub rules: Vec<RuleDelivery>,
    pub total: DeliverySummary,
}

impl<S: CounterStore + ?Sized> Engine<S> {
    /// Builds the delivery report of `tenant` from `from` to `to`.
    pub async fn delivery_report(
        &self,
        tenant: &TenantId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<DeliveryReport> {
        check_range(from, to)?;
        let rulebook = self.rulebook(tenant)?.clone();
        let rows = self.store.stats(tenant, from, to).await?;
        let mut per_rule: BTreeMap<String, Vec<StatsRow>> = BTreeMap::new();
        for row in &rows {
            per_rule
                .entry(row.rule.clone())
                .or_default()
                .push(row.clone());
        }
        let rules = report_order(&rulebook, &[], per_rule.keys())
            .into_iter()
            .map(|rule| RuleDelivery {
                delivery: DeliverySummary::of(per_rule.get(&rule).into_iter().flatten()),
                rule,
            })
            .collect();
        Ok(DeliveryReport {
            tenant: tenant.clone(),
            from,
            to,
            rules,
            total: DeliverySummary::of(&rows),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ranges_are_ordered_and_bounded() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(check_range(day(2026, 3, 1), day(2026, 3, 1)).is_ok());
        assert!(check_range(day(2026, 3, 2), day(2026, 3, 1)).is_err());
        assert!(check_range(day(2025, 3, 1), day(2026, 3, 1)).is_ok());
        assert!(check_range(day(2025, 2, 28), day(2026, 3, 1)).is_err());
    }

    #[test]
    fn delivery_adds_up_receipts_and_rates_the_receipted_texts() {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let row = |counters: &[(&str, i64)]| StatsRow {
            day,
            rule: "r".into(),
            counters: counters.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        };
        let rows = [
            row(&[
                ("sent", 10),
                ("delivered", 6),
                ("undelivered", 2),
                ("undelivered_blocked", 2),
                ("parts", 12),
                ("cost_micro_usd", 51_600),
            ]),
            row(&[("sent", 2), ("delivered", 2), ("parts", 2)]),
        ];
        let summary = DeliverySummary::of(&rows);
        assert_eq!(
            (summary.sent, summary.delivered, summary.undelivered),
            (12, 8, 2)
        );
        assert_eq!(summary.awaiting_receipt, 2);
        assert_eq!(summary.delivery_rate, Some(0.8));
        assert_eq!(
            summary.undelivered_by_reason,
            BTreeMap::from([("blocked".to_string(), 2)])
        );
        assert_eq!(summary.parts, 14);
        assert!((summary.cost_usd - 0.0516).abs() < 1e-9);
        assert_eq!(DeliverySummary::of(&[]).delivery_rate, None);
        let skipped = [row(&[
            ("skipped_number_invalid", 3),
            ("number_invalid_blocked", 1),
        ])];
        let summary = DeliverySummary::of(&skipped);
        assert_eq!(summary.skipped_number_invalid, 3);
        assert_eq!(
            summary.numbers_invalid,
            BTreeMap::from([("blocked".to_string(), 1)])
        );
    }

    #[test]
    fn rows_add_counters_and_compute_the_rate() {
        let mut row = RuleReplies::default();
        row.add(&Counters::from([
            ("sent".to_string(), 8),
            ("replied".to_string(), 3),
            ("opted_out".to_string(), 2),
            ("keyword_1".to_string(), 1),
            ("skipped_cap".to_string(), 5),
        ]));
        row.add(&Counters::from([("keyword_1".to_string(), 2)]));
        let row = row.finish();
        assert_eq!((row.sent, row.replied, row.opted_out), (8, 3, 2));
        assert_eq!(row.keywords, BTreeMap::from([("1".to_string(), 3)]));
        assert_eq!(row.opt_out_rate, Some(0.25));
        assert_eq!(RuleReplies::default().finish().opt_out_rate, None);
    }
}
