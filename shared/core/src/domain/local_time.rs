//! Local wall-clock time → UTC, the one place daylight-saving gaps and overlaps are resolved:
//! trigger times (`at: "10:00"`) and send-window edges both go through [`local_to_utc`].
use chrono::{
    DateTime, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone,
    Utc,
};
use chrono_tz::Tz;

/// The instant a local wall-clock time denotes in `zone`.
///
/// A time skipped by a spring-forward gap maps to the first instant after the gap (02:30 →
/// 03:00), so the occurrence still happens that day; a time repeated by a fall-back overlap maps
/// to its earlier instant, so it happens once.
pub(crate) fn local_to_utc(date: NaiveDate, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Pacific::Apia;

    #[test]
    fn a_time_on_a_skipped_day_is_the_end_of_the_gap() {
        // Samoa went from 2011-12-29 24:00 (UTC-10) straight to 2011-12-31 00:00 (UTC+14).
        let day = NaiveDate::from_ymd_opt(2011, 12, 30).unwrap();
        let at = NaiveTime::from_hms_opt(9, 0, 0).unwrap();
        let end_of_gap: DateTime<Utc> = "2011-12-30T10:00:00Z".parse().unwrap();
        assert_eq!(local_to_utc(day, at, Apia), end_of_gap);
    }
}
