//! The tenant's send policy as its rulebook declares it (the `policy:` section): windows, caps
//! per category, gaps, the opt-out footer, banned phrases and the segment limit.
use crate::domain::{Category, Span, UndeliveredReason};

use super::window::Window;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CapAction {
    /// Drop the occurrence (default for marketing).
    #[default]
    Skip,
    /// Try again when the cap frees up (default for care).
    Defer,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct CategoryPolicy {
    /// Overrides the rulebook-wide window for this category.
    pub window: Option<Window>,
    pub weekdays_only: bool,
    pub skip_holidays: bool,
    pub per_week: Option<u32>,
    pub per_30_days: Option<u32>,
    pub min_gap: Option<Span>,
    pub on_cap: CapAction,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub window: Window,
    pub transactional: CategoryPolicy,
    pub care: CategoryPolicy,
    pub marketing: CategoryPolicy,
    /// Minimum time between two texts of the same rule to one customer.
    pub same_rule_min_gap: Option<Span>,
    /// Appended to care and marketing texts.
    pub opt_out_footer: String,
    pub banned_phrases: Vec<String>,
    /// Default maximum SMS segments per text (a rule may override).
    pub max_segments: u32,
    /// When a number is given up on.
    pub number_hygiene: NumberHygiene,
}

/// When a number is given up on (`policy.number_hygiene`): after how many undelivered
/// outcomes in a row for one reason its texts stop. An invalid number is not going to become
/// valid; an unreachable phone or a carrier block may be passing, so they get more chances.
/// 0 never gives up for that reason. A delivered text (or an outcome for another reason)
/// ends the row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberHygiene {
    pub invalid_number: u32,
    pub unreachable: u32,
    pub blocked: u32,
}

impl Default for NumberHygiene {
    fn default() -> Self {
        NumberHygiene {
            invalid_number: 1,
            unreachable: 3,
            blocked: 3,
        }
    }
}

impl NumberHygiene {
    /// How many outcomes in a row for `reason` give the number up; None when that reason
    /// never does (other reasons say nothing about the number: a price cap, an expiry).
    pub fn give_up_after(&self, reason: UndeliveredReason) -> Option<u32> {
        let after = match reason {
            UndeliveredReason::InvalidNumber => self.invalid_number,
            UndeliveredReason::Unreachable => self.unreachable,
            UndeliveredReason::Blocked => self.blocked,
            _ => 0,
        };
        (after > 0).then_some(after)
    }
}

impl Policy {
    pub fn category(&self, category: Category) -> &CategoryPolicy {
        match category {
            Category::Transactional => &self.transactional,
            Category::Care => &self.care,
            Category::Marketing => &self.marketing,
        }
    }

    /// The window that applies to a category.
    pub(crate) fn window_for(&self, category: Category) -> Window {
        self.category(category).window.unwrap_or(self.window)
    }

    /// How far back the send ledger must reach for every cap and gap to be checked.
    pub(crate) fn ledger_horizon(&self) -> Span {
        let mut longest = Span::days(30);
        let gaps = Category::ALL
            .iter()
            .filter_map(|c| self.category(*c).min_gap)
            .chain(self.same_rule_min_gap);
        for gap in gaps {
            if gap.approx_seconds() > longest.approx_seconds() {
                longest = gap;
            }
        }
        longest
    }
}
