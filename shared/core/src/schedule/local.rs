//! Local calendar ↔ UTC: DST resolution, minute rounding and date attributes.
use chrono::{
    DateTime, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone,
    Utc,
};
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
    pub fn local_date(&self, zone: Tz) -> NaiveDate {
        match self {
            AttrInstant::Date(date) => *date,
            AttrInstant::Instant(at) => at.with_timezone(&zone).date_naive(),
        }
    }
}

/// Reads a date attribute: `"YYYY-MM-DD"` or an RFC 3339 timestamp; anything else is `None`.
pub fn attribute_date(value: &Value) -> Option<AttrInstant> {
    let text = value.as_str()?.trim();
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Some(AttrInstant::Date(date));
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|at| AttrInstant::Instant(at.with_timezone(&Utc)))
}

/// The instant a local wall-clock time denotes in `zone`.
///
/// A time skipped by a spring-forward gap maps to the first instant after the gap (02:30 →
/// 03:00), so the occurrence still happens that day; a time repeated by a fall-back overlap maps
/// to its earlier instant, so it happens once.
pub fn local_to_utc(date: NaiveDate, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let local = date.and_time(time);
    match zone.from_local_datetime(&local) {
        MappedLocalTime::Single(at) => at.with_timezone(&Utc),
        MappedLocalTime::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
        MappedLocalTime::None => end_of_gap(local, zone),
    }
}

/// The transition instant that ends the gap containing `local`.
///
/// Found by bisection over UTC seconds for the first instant whose local reading is past
/// `local`: zone offsets lie within ±14 h and gaps within a day, so the transition lies in
/// `[local − 38 h, local + 14 h]` read as UTC.
fn end_of_gap(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    let past = |secs: i64| {
        DateTime::from_timestamp(secs, 0).map(|at| at.with_timezone(&zone).naive_local() > local)
    };
    let pivot = local.and_utc().timestamp();
    let (mut lo, mut hi) = (pivot - 38 * 3_600, pivot + 14 * 3_600);
    if past(lo) == Some(false) && past(hi) == Some(true) {
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match past(mid) {
                Some(true) => hi = mid,
                Some(false) => lo = mid,
                None => break,
            }
        }
        if let Some(at) = DateTime::from_timestamp(hi, 0) {
            return at;
        }
    }
    // Out of chrono's range or a pathological zone: read the time with the offset in force
    // around it, which is at most the gap's length off.
    let offset = zone.offset_from_utc_datetime(&local).fix();
    (local - TimeDelta::seconds(i64::from(offset.local_minus_utc()))).and_utc()
}

/// Rounds up to a whole minute (the due index is keyed by minute): 10:00:00 stays, 10:00:01 →
/// 10:01:00.
pub fn ceil_to_minute(t: DateTime<Utc>) -> DateTime<Utc> {
    let secs = t.timestamp();
    if secs.rem_euclid(60) == 0 && t.timestamp_subsec_nanos() == 0 {
        return t;
    }
    let next = (secs.div_euclid(60) + 1) * 60;
    // Only fails at the very end of chrono's range, where the unrounded instant is kept.
    DateTime::from_timestamp(next, 0).unwrap_or(t)
}
