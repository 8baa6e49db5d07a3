//! What happens to a text after a provider accepted it: the provider's delivery receipt, and
//! where a text comes from (the tenant's origination identity).
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::PhoneNumber;

/// Who a tenant's texts come from, as the rulebook's `sender:` names it. Replies to a number
/// are the tenant's, so a tenant that sends from its own number gets its customers' answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origination {
    /// A phone number (long code, toll-free number or short code) of the account.
    Number(PhoneNumber),
    /// An AWS End User Messaging pool id or ARN: the provider picks one of its numbers.
    Pool(String),
    /// An alphanumeric sender id (where the destination country supports them: not China,
    /// the US or Canada) or, for template gateways, the approved signature.
    SenderId(String),
}

impl Origination {
    pub fn kind(&self) -> &'static str {
        match self {
            Origination::Number(_) => "number",
            Origination::Pool(_) => "pool",
            Origination::SenderId(_) => "sender_id",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Origination::Number(number) => number.as_str(),
            Origination::Pool(pool) => pool,
            Origination::SenderId(id) => id,
        }
    }
}

/// A text as a template gateway sends it: the approved template's id and its parameters,
/// rendered when the text was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRef {
    pub id: String,
    pub params: Vec<String>,
}

/// Why a text the provider accepted did not reach the phone, as nudge counts it
/// (`undelivered_<code>`). Providers word their reasons differently; each adapter maps its
/// own onto these and keeps its words in [`DeliveryReport::provider_status`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndeliveredReason {
    /// The phone is off, out of coverage or its carrier did not answer.
    Unreachable,
    /// The carrier or a spam filter blocked the text.
    Blocked,
    /// The number does not exist, is not a mobile number, or cannot get texts.
    InvalidNumber,
    /// The number opted out with the provider or the carrier.
    OptedOut,
    /// Delivery would have cost more than the text's price cap.
    PriceExceeded,
    /// The account's spend limit was reached before the text went out.
    SpendLimit,
    /// The text was not delivered before its time to live ran out.
    Expired,
    /// Any other reason; the provider's words say which.
    Other,
}

impl UndeliveredReason {
    pub const ALL: [UndeliveredReason; 8] = [
        UndeliveredReason::Unreachable,
        UndeliveredReason::Blocked,
        UndeliveredReason::InvalidNumber,
        UndeliveredReason::OptedOut,
        UndeliveredReason::PriceExceeded,
        UndeliveredReason::SpendLimit,
        UndeliveredReason::Expired,
        UndeliveredReason::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            UndeliveredReason::Unreachable => "unreachable",
            UndeliveredReason::Blocked => "blocked",
            UndeliveredReason::InvalidNumber => "invalid_number",
            UndeliveredReason::OptedOut => "opted_out",
            UndeliveredReason::PriceExceeded => "price_exceeded",
            UndeliveredReason::SpendLimit => "spend_limit",
            UndeliveredReason::Expired => "expired",
            UndeliveredReason::Other => "other",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        UndeliveredReason::ALL
            .into_iter()
            .find(|r| r.code() == code)
    }
}

impl fmt::Display for UndeliveredReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The final word of a receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "reason")]
pub enum DeliveryOutcome {
    Delivered,
    Undelivered(UndeliveredReason),
}

/// What a provider reported about one text it accepted, as it arrives: from SNS's
/// delivery-status logs, an EUM event, a gateway's callback or the console sender.
#[derive(Clone, Debug, PartialEq)]
pub struct Receipt {
    /// The provider that accepted the text (`sns`, `eum`, `tencent`, `console`): provider ids
    /// are unique per provider only.
    pub provider: String,
    /// The provider's id of the text (what the send answer returned).
    pub provider_id: String,
    pub outcome: DeliveryOutcome,
    pub report: DeliveryReport,
}

/// What nudge keeps of a text's receipt, on the message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// When the provider reported the outcome.
    pub at: DateTime<Utc>,
    /// The provider's own words (`Message has been accepted by phone carrier`).
    pub provider_status: String,
    /// What the provider charged, in USD, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_usd: Option<f64>,
    /// The message parts the provider counted, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts: Option<u32>,
    /// The destination's carrier, when the provider names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
}

impl DeliveryReport {
    /// The price in millionths of a USD, as the cost counter adds it up (counters are
    /// integers; a millionth is far below any SMS price).
    pub fn price_micro_usd(&self) -> Option<i64> {
        self.price_usd
            .filter(|p| p.is_finite() && *p >= 0.0)
            .map(|p| (p * 1_000_000.0).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_round_trip_through_their_codes() {
        for reason in UndeliveredReason::ALL {
            assert_eq!(UndeliveredReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(UndeliveredReason::from_code("lost"), None);
    }

    #[test]
    fn prices_count_in_millionths_and_nonsense_prices_not_at_all() {
        let mut report = DeliveryReport {
            at: DateTime::<Utc>::UNIX_EPOCH,
            provider_status: "ok".into(),
            price_usd: Some(0.00645),
            parts: None,
            carrier: None,
        };
        assert_eq!(report.price_micro_usd(), Some(6450));
        report.price_usd = Some(-1.0);
        assert_eq!(report.price_micro_usd(), None);
        report.price_usd = Some(f64::NAN);
        assert_eq!(report.price_micro_usd(), None);
    }
}
