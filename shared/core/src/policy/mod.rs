//! Send policies as pure functions: consent, exit/condition, same-rule gap, window, caps,
//! holdout, content and segments, evaluated by [`decide`] at the moment of sending.
pub mod caps;
pub mod content;
pub mod holdout;
pub mod segments;
mod settings;
pub mod window;

#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;

use crate::domain::{Category, RuleId, SentEntry};
pub use caps::CapCheck;
pub use content::ContentProblem;
pub(crate) use content::{compose, has_control_character};
pub(crate) use holdout::in_holdout;
pub use segments::{count_segments, Encoding, Segments};
pub use settings::{CapAction, CategoryPolicy, NumberHygiene, Policy};
pub(crate) use window::next_opening;
pub use window::{Opening, Window};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Send,
    Defer {
        until: DateTime<Utc>,
        reason: DeferReason,
    },
    Skip {
        reason: SkipReason,
    },
}

impl Decision {
    /// `send`, `defer` or `skip`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Decision::Send => "send",
            Decision::Defer { .. } => "defer",
            Decision::Skip { .. } => "skip",
        }
    }
}

/// Which frequency cap was hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CapKind {
    PerWeek,
    Per30Days,
    MinGap,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Number suppressed or customer opted out.
    OptedOut,
    /// The customer's number is one nudge gave up on (`policy.number_hygiene`).
    NumberInvalid,
    /// The rule's `exit` condition holds.
    Exit,
    /// The rule's `when` condition no longer holds.
    Condition,
    SameRuleGap,
    Cap(CapKind),
    Holdout,
    Content(ContentProblem),
    TooManySegments,
    /// The rule's template could not be rendered for this customer (found by the engine
    /// before the policies run).
    Template,
    /// The occurrence was already decided "send" (a repeated decision; found by the store).
    Duplicate,
}

impl SkipReason {
    /// Stable snake_case code: stats count `skipped_<code>`; logs, decisions (as JSON) and
    /// skipped messages carry it.
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::OptedOut => "opted_out",
            SkipReason::NumberInvalid => "number_invalid",
            SkipReason::Exit => "exit",
            SkipReason::Condition => "condition",
            SkipReason::SameRuleGap => "same_rule_gap",
            SkipReason::Cap(CapKind::PerWeek) => "cap_per_week",
            SkipReason::Cap(CapKind::Per30Days) => "cap_per_30_days",
            SkipReason::Cap(CapKind::MinGap) => "cap_min_gap",
            SkipReason::Holdout => "holdout",
            SkipReason::Content(problem) => match problem {
                ContentProblem::MissingBrand => "content_missing_brand",
                ContentProblem::MissingFooter => "content_missing_footer",
                ContentProblem::BannedPhrase(_) => "content_banned_phrase",
                ContentProblem::FullwidthExclamation => "content_fullwidth_exclamation",
                ContentProblem::DoubleQuestion => "content_double_question",
                ContentProblem::ControlCharacter => "content_control_character",
            },
            SkipReason::TooManySegments => "too_many_segments",
            SkipReason::Template => "template",
            SkipReason::Duplicate => "duplicate",
        }
    }
}

/// A reason is written as its code, so decisions read the same as before reasons were typed.
impl Serialize for SkipReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// A reason equals its code (`SkipReason::OptedOut == *"opted_out"`), as stored messages keep it.
impl PartialEq<str> for SkipReason {
    fn eq(&self, code: &str) -> bool {
        self.code() == code
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Content(problem) => write!(f, "{}: {problem}", self.code()),
            other => f.write_str(other.code()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeferReason {
    /// Outside the local time-of-day window.
    Window,
    /// Weekend and the category is weekdays-only.
    Weekend,
    /// A listed holiday and the category skips holidays.
    Holiday,
    /// A cap with `on_cap: defer` is full.
    Cap,
}

impl DeferReason {
    /// Every reason, for reading a code back.
    pub const ALL: [DeferReason; 4] = [
        DeferReason::Window,
        DeferReason::Weekend,
        DeferReason::Holiday,
        DeferReason::Cap,
    ];

    /// Stable snake_case code: stats count `deferred_<code>`; logs and decisions carry it.
    pub fn code(&self) -> &'static str {
        match self {
            DeferReason::Window => "window",
            DeferReason::Weekend => "weekend",
            DeferReason::Holiday => "holiday",
            DeferReason::Cap => "cap",
        }
    }

    /// The reason whose [`code`](Self::code) this is.
    pub(crate) fn from_code(code: &str) -> Option<DeferReason> {
        DeferReason::ALL.into_iter().find(|r| r.code() == code)
    }
}

impl Serialize for DeferReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl PartialEq<str> for DeferReason {
    fn eq(&self, code: &str) -> bool {
        self.code() == code
    }
}

impl fmt::Display for DeferReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Everything [`decide`] needs; borrowed so a decision allocates nothing on the send path.
#[derive(Clone, Copy, Debug)]
pub struct PolicyInput<'a> {
    pub now: DateTime<Utc>,
    /// The customer's zone (tenant default when they have none).
    pub zone: Tz,
    pub category: Category,
    pub rule: &'a RuleId,
    pub customer_id: &'a str,
    pub holdout_bp: u32,
    /// The rule's maximum, else the rulebook default.
    pub max_segments: u32,
    /// Number on the suppression list or customer opted out.
    pub suppressed: bool,
    /// The customer's number was given up on as undeliverable.
    pub number_invalid: bool,
    /// The rule's `when` holds now (true when it has none).
    pub condition_holds: bool,
    /// The rule's `exit` holds now (false when it has none).
    pub exit_holds: bool,
    pub ledger: &'a [SentEntry],
    /// The composed text (see [`compose`]).
    pub text: &'a str,
    pub brand: &'a str,
    pub policy: &'a Policy,
    pub holidays: &'a BTreeSet<NaiveDate>,
}

/// Applies the policies in order; the first that objects decides:
/// consent → number given up on → exit → condition → same-rule gap → window → caps → holdout → content → segments.
///
/// Consent wins over everything, transactional texts included (the single opt-out confirmation
/// is sent by the inbound flow, not through here). Transactional texts use their own window and
/// are exempt from caps and the same-rule gap. A full cap skips or defers per the category's
/// `on_cap`; a deferral lands on the first window opening at or after the cap frees up.
pub fn decide(input: &PolicyInput) -> Decision {
    let skip = |reason| Decision::Skip { reason };
    if input.suppressed {
        return skip(SkipReason::OptedOut);
    }
    if input.number_invalid {
        return skip(SkipReason::NumberInvalid);
    }
    if input.exit_holds {
        return skip(SkipReason::Exit);
    }
    if !input.condition_holds {
        return skip(SkipReason::Condition);
    }
    let policy = input.policy;
    let category_policy = policy.category(input.category);
    let gap = policy.same_rule_min_gap;
    let same_rule = caps::same_rule_gap(input.ledger, input.category, input.rule, gap, input.now);
    if let CapCheck::Exceeded { reason, .. } = same_rule {
        return skip(reason);
    }
    let opening_at = |at| {
        let holidays = category_policy.skip_holidays.then_some(input.holidays);
        let window = policy.window_for(input.category);
        next_opening(
            at,
            input.zone,
            window,
            category_policy.weekdays_only,
            holidays,
        )
    };
    if let Opening {
        at,
        reason: Some(reason),
    } = opening_at(input.now)
    {
        return Decision::Defer { until: at, reason };
    }
    let caps = caps::category_caps(input.ledger, input.category, category_policy, input.now);
    if let CapCheck::Exceeded { reason, frees_at } = caps {
        return match category_policy.on_cap {
            CapAction::Skip => skip(reason),
            CapAction::Defer => Decision::Defer {
                until: opening_at(frees_at).at,
                reason: DeferReason::Cap,
            },
        };
    }
    if in_holdout(input.rule, input.customer_id, input.holdout_bp) {
        return skip(SkipReason::Holdout);
    }
    let footer = policy.opt_out_footer.as_str();
    let banned = policy.banned_phrases.as_slice();
    if let Some(problem) =
        content::first_problem(input.text, input.brand, footer, input.category, banned)
    {
        return skip(SkipReason::Content(problem));
    }
    if count_segments(input.text).segments > input.max_segments {
        return skip(SkipReason::TooManySegments);
    }
    Decision::Send
}
