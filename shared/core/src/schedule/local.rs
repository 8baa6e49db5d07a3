//! Local calendar ↔ UTC: minute rounding and date attributes (DST is resolved by
//! [`crate::domain::local_to_utc`]).
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// A customer attribute read as a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttrInstant {
    /// `"2026-03-05"`: a calendar date in the customer's own zone.
    Date(NaiveDate),
    /// RFC 3339 with `Z` or an offset: an exact instant.
    Instant(DateTime<Utc>),
}

impl AttrInstant {
    /// The calendar date as the customer sees it.
    pub(crate) fn local_date(&self, zone: Tz) -> NaiveDate {
        match self {
            AttrInstant::Date(date) => *date,
            AttrInstant::Instant(at) => at.with_timezone(&zone).date_naive(),
        }
    }
}

/// Reads a date attribute: `"YYYY-MM-DD"` or an RFC 3339 timestamp; anything else is `None`.
pub(crate) fn attribute_date(value: &Value) -> Option<AttrInstant> {
    let text = value.as_str()?.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(AttrInstant::Date(date));
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| AttrInstant::Instant(at.with_timezone(&Utc)))
}

/// Rounds up to a whole minute (the due index is keyed by minute): 10:00:00 stays, 10:00:01 →
/// 10:01:00.
pub(crate) fn ceil_to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    if secs.rem_euclid(60) == 0 && t.timestamp_subsec_nanos() == 0 {
        return t;
    }
    let next = (secs.div_euclid(60) + 1) * 60;
    // Only fails at the very end of chrono's range, where the unrounded instant is kept.
    DateTime::from_timestamp(next, 0).unwrap_or(t)
}
