//! The stats counters, kept per tenant, day and rule. Writers name what they count with
//! [`Counter`]; the stores keep the counters by [`Counter::name`] (a [`Counters`] map), and
//! readers that interpret a stored name read it back with [`Counter::parse`].
use std::fmt;

use crate::domain::UndeliveredReason;
use crate::policy::{DeferReason, SkipReason};
use crate::ports::Counters;

/// One stats counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counter {
    /// `queued`: a text queued for sending (a decision "send" or an answer to a reply).
    Queued,
    /// `sent`: a text the provider accepted.
    Sent,
    /// `failed`: a text that could not be sent, for good.
    Failed,
    /// `delivered`: a sent text the provider reported delivered (counted on its send day).
    Delivered,
    /// `undelivered`: a sent text the provider reported not delivered, whatever the reason.
    Undelivered,
    /// `undelivered_<reason>`: the undelivered texts for one reason (`undelivered_blocked`).
    UndeliveredFor(UndeliveredReason),
    /// `parts`: message parts of receipted texts, as the provider counted them (else as
    /// nudge did); added per receipt, not counted one by one.
    Parts,
    /// `cost_micro_usd`: what the provider charged for receipted texts, in millionths of a
    /// USD; added per receipt.
    CostMicroUsd,
    /// `paused_spend_limit`: a text put back because the account's spend limit was reached.
    PausedSpendLimit,
    /// `no_receipt`: a sent text no receipt settled within the receipt wait (72 h); its
    /// status becomes `unknown`.
    NoReceipt,
    /// `number_invalid_<reason>`: numbers given up on (`policy.number_hygiene`) after
    /// undelivered outcomes for that reason, counted on the day and under the rule of the
    /// text whose outcome decided it.
    NumberInvalid(UndeliveredReason),
    /// `unknown`: a text whose sender stopped after handing it to the provider; it may or
    /// may not have gone out (care and marketing texts are not sent again).
    Unknown,
    /// `resent_unknown`: a transactional text sent again because its sender stopped after
    /// handing it to the provider (the customer may get it twice).
    ResentUnknown,
    /// `lease_requeued`: a text whose sender stopped before calling the provider, queued
    /// again (it certainly did not go out).
    LeaseRequeued,
    /// `deferred`: every deferral, whatever its reason.
    Deferred,
    /// `deferred_<reason>`: the deferrals for one reason (`deferred_window`, …).
    DeferredFor(DeferReason),
    /// `skipped_<reason>`: an occurrence (or a queued text) not sent, per reason
    /// (`skipped_cap_per_week`, `skipped_holdout`, …).
    Skipped(SkipReason),
    /// `replied`: every reply counted for the rule.
    Replied,
    /// `opted_out`: replies that opted out.
    OptedOut,
    /// `opted_in`: replies that opted a suppressed number (or opted-out customer) back in.
    OptedIn,
    /// `opt_in_refused`: opt-in replies the provider would not act on yet (the number stays
    /// on its opt-out list, so it stays suppressed).
    OptInRefused,
    /// `free_text`: replies that matched no keyword of the text they answer.
    FreeText,
    /// `keyword_<keyword>`: replies with one menu keyword (`keyword_1`, `keyword_Y`, …).
    Keyword(String),
    /// `converted`: texts a goal event was attributed to (counted on the text's day).
    Converted,
    /// `conversion_value_milli`: the goal value of those conversions, in thousandths;
    /// added per conversion.
    ConversionValueMilli,
    /// `held_out_converted`: holdout decisions of rules with a goal that a goal event was
    /// attributed to (counted on the day of the decision).
    HeldOutConverted,
    /// `held_out_conversion_value_milli`: the goal value of those, in thousandths.
    HeldOutConversionValueMilli,
}

const QUEUED: &str = "queued";
const SENT: &str = "sent";
const FAILED: &str = "failed";
const DELIVERED: &str = "delivered";
const UNDELIVERED: &str = "undelivered";
const UNDELIVERED_PREFIX: &str = "undelivered_";
const PARTS: &str = "parts";
const COST_MICRO_USD: &str = "cost_micro_usd";
const PAUSED_SPEND_LIMIT: &str = "paused_spend_limit";
const NO_RECEIPT: &str = "no_receipt";
const NUMBER_INVALID_PREFIX: &str = "number_invalid_";
const UNKNOWN: &str = "unknown";
const RESENT_UNKNOWN: &str = "resent_unknown";
const LEASE_REQUEUED: &str = "lease_requeued";
const DEFERRED: &str = "deferred";
const DEFERRED_PREFIX: &str = "deferred_";
const SKIPPED_PREFIX: &str = "skipped_";
const REPLIED: &str = "replied";
const OPTED_OUT: &str = "opted_out";
const OPTED_IN: &str = "opted_in";
const OPT_IN_REFUSED: &str = "opt_in_refused";
const FREE_TEXT: &str = "free_text";
const KEYWORD_PREFIX: &str = "keyword_";
const CONVERTED: &str = "converted";
const CONVERSION_VALUE_MILLI: &str = "conversion_value_milli";
const HELD_OUT_CONVERTED: &str = "held_out_converted";
const HELD_OUT_CONVERSION_VALUE_MILLI: &str = "held_out_conversion_value_milli";

impl Counter {
    /// The name the counter is stored under.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// The counter stored under `name`. Skip counters are not read back (None): their name
    /// keeps the reason's code only, not its detail (which banned phrase), so no
    /// [`SkipReason`] can be rebuilt from it. None also for a name nudge does not write.
    pub fn parse(name: &str) -> Option<Counter> {
        let fixed = match name {
            QUEUED => Some(Counter::Queued),
            SENT => Some(Counter::Sent),
            FAILED => Some(Counter::Failed),
            DELIVERED => Some(Counter::Delivered),
            UNDELIVERED => Some(Counter::Undelivered),
            PARTS => Some(Counter::Parts),
            COST_MICRO_USD => Some(Counter::CostMicroUsd),
            PAUSED_SPEND_LIMIT => Some(Counter::PausedSpendLimit),
            NO_RECEIPT => Some(Counter::NoReceipt),
            UNKNOWN => Some(Counter::Unknown),
            RESENT_UNKNOWN => Some(Counter::ResentUnknown),
            LEASE_REQUEUED => Some(Counter::LeaseRequeued),
            DEFERRED => Some(Counter::Deferred),
            REPLIED => Some(Counter::Replied),
            OPTED_OUT => Some(Counter::OptedOut),
            OPTED_IN => Some(Counter::OptedIn),
            OPT_IN_REFUSED => Some(Counter::OptInRefused),
            FREE_TEXT => Some(Counter::FreeText),
            CONVERTED => Some(Counter::Converted),
            CONVERSION_VALUE_MILLI => Some(Counter::ConversionValueMilli),
            HELD_OUT_CONVERTED => Some(Counter::HeldOutConverted),
            HELD_OUT_CONVERSION_VALUE_MILLI => Some(Counter::HeldOutConversionValueMilli),
            _ => None,
        };
        fixed
            .or_else(|| {
                let keyword = name.strip_prefix(KEYWORD_PREFIX)?;
                Some(Counter::Keyword(keyword.to_string()))
            })
            .or_else(|| {
                let reason = name.strip_prefix(UNDELIVERED_PREFIX)?;
                UndeliveredReason::from_code(reason).map(Counter::UndeliveredFor)
            })
            .or_else(|| {
                let reason = name.strip_prefix(NUMBER_INVALID_PREFIX)?;
                UndeliveredReason::from_code(reason).map(Counter::NumberInvalid)
            })
            .or_else(|| {
                let reason = name.strip_prefix(DEFERRED_PREFIX)?;
                DeferReason::from_code(reason).map(Counter::DeferredFor)
            })
    }
}

impl fmt::Display for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Counter::Queued => f.write_str(QUEUED),
            Counter::Sent => f.write_str(SENT),
            Counter::Failed => f.write_str(FAILED),
            Counter::Delivered => f.write_str(DELIVERED),
            Counter::Undelivered => f.write_str(UNDELIVERED),
            Counter::UndeliveredFor(reason) => write!(f, "{UNDELIVERED_PREFIX}{}", reason.code()),
            Counter::Parts => f.write_str(PARTS),
            Counter::CostMicroUsd => f.write_str(COST_MICRO_USD),
            Counter::PausedSpendLimit => f.write_str(PAUSED_SPEND_LIMIT),
            Counter::NoReceipt => f.write_str(NO_RECEIPT),
            Counter::NumberInvalid(reason) => {
                write!(f, "{NUMBER_INVALID_PREFIX}{}", reason.code())
            }
            Counter::Unknown => f.write_str(UNKNOWN),
            Counter::ResentUnknown => f.write_str(RESENT_UNKNOWN),
            Counter::LeaseRequeued => f.write_str(LEASE_REQUEUED),
            Counter::Deferred => f.write_str(DEFERRED),
            Counter::DeferredFor(reason) => write!(f, "{DEFERRED_PREFIX}{}", reason.code()),
            Counter::Skipped(reason) => write!(f, "{SKIPPED_PREFIX}{}", reason.code()),
            Counter::Replied => f.write_str(REPLIED),
            Counter::OptedOut => f.write_str(OPTED_OUT),
            Counter::OptedIn => f.write_str(OPTED_IN),
            Counter::OptInRefused => f.write_str(OPT_IN_REFUSED),
            Counter::FreeText => f.write_str(FREE_TEXT),
            Counter::Keyword(keyword) => write!(f, "{KEYWORD_PREFIX}{keyword}"),
            Counter::Converted => f.write_str(CONVERTED),
            Counter::ConversionValueMilli => f.write_str(CONVERSION_VALUE_MILLI),
            Counter::HeldOutConverted => f.write_str(HELD_OUT_CONVERTED),
            Counter::HeldOutConversionValueMilli => f.write_str(HELD_OUT_CONVERSION_VALUE_MILLI),
        }
    }
}

/// Stats that count each of `counters` once, as the stores take them.
pub(crate) fn one_each(counters: impl IntoIterator<Item = Counter>) -> Counters {
    counters.into_iter().map(|c| (c.name(), 1)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::policy::{CapKind, ContentProblem};

    #[test]
    fn names_are_the_stored_names() {
        let names = [
            (Counter::Queued, "queued"),
            (Counter::Sent, "sent"),
            (Counter::Failed, "failed"),
            (Counter::Unknown, "unknown"),
            (Counter::ResentUnknown, "resent_unknown"),
            (Counter::LeaseRequeued, "lease_requeued"),
            (Counter::Deferred, "deferred"),
            (Counter::DeferredFor(DeferReason::Window), "deferred_window"),
            (Counter::DeferredFor(DeferReason::Cap), "deferred_cap"),
            (
                Counter::Skipped(SkipReason::Cap(CapKind::PerWeek)),
                "skipped_cap_per_week",
            ),
            (Counter::Skipped(SkipReason::OptedOut), "skipped_opted_out"),
            (Counter::Skipped(SkipReason::Duplicate), "skipped_duplicate"),
            (
                Counter::Skipped(SkipReason::Content(ContentProblem::BannedPhrase(
                    "清仓".into(),
                ))),
                "skipped_content_banned_phrase",
            ),
            (Counter::Replied, "replied"),
            (Counter::OptedOut, "opted_out"),
            (Counter::OptedIn, "opted_in"),
            (Counter::OptInRefused, "opt_in_refused"),
            (Counter::FreeText, "free_text"),
            (Counter::Keyword("1".into()), "keyword_1"),
            (Counter::Keyword("Y".into()), "keyword_Y"),
        ];
        for (counter, name) in names {
            assert_eq!(counter.name(), name);
        }
    }

    #[test]
    fn stored_names_read_back_as_their_counter() {
        let readable = [
            Counter::Queued,
            Counter::Sent,
            Counter::Failed,
            Counter::Delivered,
            Counter::Undelivered,
            Counter::UndeliveredFor(UndeliveredReason::OptedOut),
            Counter::Parts,
            Counter::CostMicroUsd,
            Counter::PausedSpendLimit,
            Counter::NoReceipt,
            Counter::NumberInvalid(UndeliveredReason::Unreachable),
            Counter::Unknown,
            Counter::ResentUnknown,
            Counter::LeaseRequeued,
            Counter::Deferred,
            Counter::DeferredFor(DeferReason::Weekend),
            Counter::Replied,
            Counter::OptedOut,
            Counter::OptedIn,
            Counter::OptInRefused,
            Counter::FreeText,
            Counter::Keyword("1".into()),
            Counter::Keyword("opted_out".into()),
            Counter::Converted,
            Counter::ConversionValueMilli,
            Counter::HeldOutConverted,
            Counter::HeldOutConversionValueMilli,
        ];
        for counter in readable {
            assert_eq!(Counter::parse(&counter.name()), Some(counter));
        }
        assert_eq!(Counter::parse("skipped_cap_per_week"), None);
        assert_eq!(Counter::parse("deferred_nonsense"), None);
        assert_eq!(Counter::parse("delivered"), Some(Counter::Delivered));
        assert_eq!(
            Counter::parse("undelivered_blocked"),
            Some(Counter::UndeliveredFor(UndeliveredReason::Blocked))
        );
        assert_eq!(Counter::parse("undelivered_lost"), None);
        assert_eq!(
            Counter::parse("number_invalid_invalid_number"),
            Some(Counter::NumberInvalid(UndeliveredReason::InvalidNumber))
        );
        assert_eq!(
            Counter::Skipped(SkipReason::NumberInvalid).name(),
            "skipped_number_invalid",
            "the skip counter is not a number_invalid_ counter"
        );
    }

    #[test]
    fn one_each_counts_every_counter_once() {
        let stats = one_each([
            Counter::Deferred,
            Counter::DeferredFor(DeferReason::Holiday),
        ]);
        assert_eq!(
            stats,
            Counters::from([
                ("deferred".to_string(), 1),
                ("deferred_holiday".to_string(), 1)
            ])
        );
    }
}
