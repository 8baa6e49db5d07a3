//! Frequency caps and gaps, read from the customer's send ledger.
//!
//! Transactional texts are exempt from everything here (caps *and* the same-rule gap): two
//! orders shipped within a day must both be confirmed. Consent still applies to them.
use chrono::{DateTime, TimeDelta, Utc};

use super::{CapKind, SkipReason};
use crate::domain::{Category, RuleId, SentEntry, Span};
use crate::rulebook::CategoryPolicy;

const WEEK: TimeDelta = TimeDelta::days(7);
const THIRTY_DAYS: TimeDelta = TimeDelta::days(30);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapCheck {
    Ok,
    /// `frees_at` is the earliest instant at which the check passes again (absent new sends).
    Exceeded {
        reason: SkipReason,
        frees_at: DateTime<Utc>,
    },
}

/// The same-rule gap, then the category caps.
pub fn check(
    ledger: &[SentEntry],
    category: Category,
    policy: &CategoryPolicy,
    rule: &RuleId,
    same_rule_min_gap: Option<Span>,
    now: DateTime<Utc>,
) -> CapCheck {
    match same_rule_gap(ledger, category, rule, same_rule_min_gap, now) {
        CapCheck::Ok => category_caps(ledger, category, policy, now),
        exceeded => exceeded,
    }
}

/// Minimum time between two texts of one rule, whatever their category.
pub fn same_rule_gap(
    ledger: &[SentEntry],
    category: Category,
    rule: &RuleId,
    gap: Option<Span>,
    now: DateTime<Utc>,
) -> CapCheck {
    let Some(gap) = gap else { return CapCheck::Ok };
    if category == Category::Transactional {
        return CapCheck::Ok;
    }
    let last = ledger
        .iter()
        .filter(|e| &e.rule == rule)
        .map(|e| e.at)
        .max();
    match last.map(|at| add(gap, at)) {
        Some(frees_at) if frees_at > now => CapCheck::Exceeded {
            reason: SkipReason::SameRuleGap,
            frees_at,
        },
        _ => CapCheck::Ok,
    }
}

/// Per-category caps: `per_week` over a rolling 7 days, `per_30_days` over a rolling 30 days,
/// `min_gap` since the category's last text. When several are exceeded, reports the one that
/// frees up last, so deferring to `frees_at` satisfies all of them.
pub fn category_caps(
    ledger: &[SentEntry],
    category: Category,
    policy: &CategoryPolicy,
    now: DateTime<Utc>,
) -> CapCheck {
    if category == Category::Transactional {
        return CapCheck::Ok;
    }
    let mut worst: Option<(CapKind, DateTime<Utc>)> = None;
    let mut note = |kind: CapKind, frees_at: Option<DateTime<Utc>>| {
        if let Some(at) = frees_at.filter(|at| *at > now) {
            if worst.is_none_or(|(_, w)| at > w) {
                worst = Some((kind, at));
            }
        }
    };
    let of_category = || {
        ledger
            .iter()
            .filter(move |e| e.category == category)
            .map(|e| e.at)
    };
    if let Some(gap) = policy.min_gap {
        note(CapKind::MinGap, of_category().max().map(|at| add(gap, at)));
    }
    if let Some(cap) = policy.per_week {
        note(CapKind::PerWeek, rolling(of_category, cap, WEEK, now));
    }
    if let Some(cap) = policy.per_30_days {
        note(
            CapKind::Per30Days,
            rolling(of_category, cap, THIRTY_DAYS, now),
        );
    }
    match worst {
        Some((kind, frees_at)) => CapCheck::Exceeded {
            reason: SkipReason::Cap(kind),
            frees_at,
        },
        None => CapCheck::Ok,
    }
}

/// When a rolling `period` cap of `cap` sends is full, the instant it has room again: enough of
/// the oldest counted sends must age out to leave `cap - 1` in the period.
fn rolling<I: Iterator<Item = DateTime<Utc>>>(
    sends: impl Fn() -> I,
    cap: u32,
    period: TimeDelta,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if cap == 0 {
        // A zero cap closes the category for good.
        return Some(DateTime::<Utc>::MAX_UTC);
    }
    let since = now.checked_sub_signed(period)?;
    let counted = sends().filter(|at| *at > since).count();
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    if counted < cap {
        return None;
    }
    // The (counted - cap)-th oldest counted send (0-based) is the last that must age out.
    // Selected without sorting or allocating: ledgers are short and this path is rare.
    let k = counted - cap;
    let nth = sends().filter(|at| *at > since).find(|candidate| {
        let less = sends().filter(|at| *at > since && at < candidate).count();
        let less_or_equal = sends().filter(|at| *at > since && at <= candidate).count();
        less <= k && k < less_or_equal
    })?;
    Some(
        nth.checked_add_signed(period)
            .unwrap_or(DateTime::<Utc>::MAX_UTC),
    )
}

/// `at + span`, saturating: a gap that overflows never frees.
fn add(span: Span, at: DateTime<Utc>) -> DateTime<Utc> {
    span.add_to(at).unwrap_or(DateTime::<Utc>::MAX_UTC)
}
