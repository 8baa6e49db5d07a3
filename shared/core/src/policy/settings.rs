//! The tenant's send policy as its rulebook declares it (the `policy:` section): windows, caps
//! per category, gaps, the opt-out footer, banned phrases and the segment limit.
use crate::domain::{Category, Span};

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
