//! Frequency caps and gaps, read from the customer's send ledger.
//!
//! Transactional texts are exempt from everything here (caps *and* the same-rule gap): two
//! orders shipped within a day must both be confirmed. Consent still applies to them.
use chrono::{DateTime, TimeDelta, Utc};

use super::{CapKind, CategoryPolicy, SkipReason};
use crate::domain::{Category, RuleId, SentEntry, Span};

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
pub(crate) fn same_rule_gap(
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
pub(crate) fn category_caps(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::CapAction;

    fn now() -> DateTime<Utc> {
        "2026-05-06T02:00:00Z".parse().unwrap()
    }

    fn rule(id: &str) -> RuleId {
        RuleId::parse(id).unwrap()
    }

    fn ago(hours: i64) -> DateTime<Utc> {
        now() - TimeDelta::hours(hours)
    }

    fn sent(hours_ago: i64, category: Category, id: &str) -> SentEntry {
        SentEntry {
            at: ago(hours_ago),
            category,
            rule: rule(id),
        }
    }

    fn caps(
        per_week: Option<u32>,
        per_30_days: Option<u32>,
        min_gap: Option<&str>,
    ) -> CategoryPolicy {
        CategoryPolicy {
            per_week,
            per_30_days,
            min_gap: min_gap.map(|g| Span::parse(g).unwrap()),
            on_cap: CapAction::Skip,
            ..CategoryPolicy::default()
        }
    }

    fn exceeded(kind: CapKind, frees_in_hours: i64) -> CapCheck {
        CapCheck::Exceeded {
            reason: SkipReason::Cap(kind),
            frees_at: now() + TimeDelta::hours(frees_in_hours),
        }
    }

    /// (name, policy, ledger as (hours ago, category), category checked, expected)
    type Case = (
        &'static str,
        CategoryPolicy,
        Vec<(i64, Category)>,
        Category,
        CapCheck,
    );

    #[test]
    fn category_caps_table() {
        use Category::{Care, Marketing as M, Transactional};
        let d = 24;
        let cases: Vec<Case> = vec![
            (
                "3 of 3 in 30 days",
                caps(None, Some(3), None),
                vec![(25 * d, M), (15 * d, M), (12 * d, M)],
                M,
                exceeded(CapKind::Per30Days, 5 * d),
            ),
            (
                "2 of 3 in 30 days",
                caps(None, Some(3), None),
                vec![(15 * d, M), (12 * d, M)],
                M,
                CapCheck::Ok,
            ),
            (
                "oldest aged out",
                caps(None, Some(3), None),
                vec![(31 * d, M), (15 * d, M), (12 * d, M)],
                M,
                CapCheck::Ok,
            ),
            (
                "2 of 2 this week",
                caps(Some(2), None, None),
                vec![(6 * d, M), (d, M)],
                M,
                exceeded(CapKind::PerWeek, d),
            ),
            (
                "1 of 2 this week",
                caps(Some(2), None, None),
                vec![(8 * d, M), (d, M)],
                M,
                CapCheck::Ok,
            ),
            (
                "over the cap by two",
                caps(Some(2), None, None),
                vec![(6 * d, M), (3 * d, M), (5 * d, M), (4 * d, M)],
                M,
                exceeded(CapKind::PerWeek, 3 * d),
            ),
            (
                "min gap 10d, 9d ago",
                caps(None, None, Some("10d")),
                vec![(9 * d, M)],
                M,
                exceeded(CapKind::MinGap, d),
            ),
            (
                "min gap 10d, 10d ago",
                caps(None, None, Some("10d")),
                vec![(10 * d, M)],
                M,
                CapCheck::Ok,
            ),
            (
                "other category not counted",
                caps(Some(1), Some(1), Some("10d")),
                vec![(d, Care), (d, Transactional)],
                M,
                CapCheck::Ok,
            ),
            (
                "latest freeing cap reported",
                caps(Some(1), None, Some("10d")),
                vec![(d, M)],
                M,
                exceeded(CapKind::MinGap, 9 * d),
            ),
            (
                "care counts its own",
                caps(Some(3), None, None),
                vec![(6 * d, Care), (2 * d, Care), (d, Care)],
                Care,
                exceeded(CapKind::PerWeek, d),
            ),
            (
                "transactional exempt",
                caps(Some(1), Some(1), Some("10d")),
                vec![(1, Transactional)],
                Transactional,
                CapCheck::Ok,
            ),
            (
                "zero cap never frees",
                caps(Some(0), None, None),
                vec![],
                M,
                CapCheck::Exceeded {
                    reason: SkipReason::Cap(CapKind::PerWeek),
                    frees_at: DateTime::<Utc>::MAX_UTC,
                },
            ),
        ];
        for (name, policy, ledger, category, want) in cases {
            let ledger: Vec<SentEntry> = ledger.into_iter().map(|(h, c)| sent(h, c, "r")).collect();
            assert_eq!(
                category_caps(&ledger, category, &policy, now()),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn same_rule_gap_table() {
        use Category::{Care, Marketing, Transactional};
        let gap = Some(Span::parse("72h").unwrap());
        let blocked = |hours| CapCheck::Exceeded {
            reason: SkipReason::SameRuleGap,
            frees_at: now() + TimeDelta::hours(hours),
        };
        let cases = [
            ("71h ago", vec![sent(71, Care, "a")], Care, gap, blocked(1)),
            (
                "73h ago",
                vec![sent(73, Care, "a")],
                Care,
                gap,
                CapCheck::Ok,
            ),
            (
                "exactly 72h ago",
                vec![sent(72, Care, "a")],
                Care,
                gap,
                CapCheck::Ok,
            ),
            (
                "newest counts",
                vec![sent(100, Care, "a"), sent(2, Care, "a")],
                Care,
                gap,
                blocked(70),
            ),
            (
                "other rule",
                vec![sent(1, Care, "b")],
                Care,
                gap,
                CapCheck::Ok,
            ),
            (
                "across categories",
                vec![sent(1, Marketing, "a")],
                Care,
                gap,
                blocked(71),
            ),
            (
                "transactional exempt",
                vec![sent(1, Transactional, "a")],
                Transactional,
                gap,
                CapCheck::Ok,
            ),
            (
                "no gap configured",
                vec![sent(1, Care, "a")],
                Care,
                None,
                CapCheck::Ok,
            ),
        ];
        for (name, ledger, category, gap, want) in cases {
            assert_eq!(
                same_rule_gap(&ledger, category, &rule("a"), gap, now()),
                want,
                "{name}"
            );
        }
    }

    #[test]
    fn check_reports_the_same_rule_gap_before_caps() {
        let ledger = [sent(1, Category::Care, "a")];
        let policy = caps(Some(1), None, None);
        let gap = Some(Span::parse("72h").unwrap());
        let got = check(&ledger, Category::Care, &policy, &rule("a"), gap, now());
        assert!(matches!(
            got,
            CapCheck::Exceeded {
                reason: SkipReason::SameRuleGap,
                ..
            }
        ));
        let got = check(&ledger, Category::Care, &policy, &rule("b"), gap, now());
        assert_eq!(got, exceeded(CapKind::PerWeek, 7 * 24 - 1));
    }
}
