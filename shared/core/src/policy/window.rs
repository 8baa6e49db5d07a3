//! Send windows: local time-of-day intervals, optionally restricted to business days.
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use std::collections::BTreeSet;

use super::DeferReason;
use crate::domain::local_to_utc;
use crate::error::{Error, Result};

/// A local time-of-day interval `[start, end)`, the one window model of rulebooks and sending.
///
/// - `start < end`: within one day (09:00–20:00).
/// - `end < start`: overnight (22:00–06:00); it runs past midnight and belongs to the day it
///   opens on, so weekday and holiday rules judge 03:00 on Saturday by Friday.
/// - `00:00–00:00`: the whole day ([`Window::WHOLE_DAY`]). No other window has equal ends, so
///   an ambiguous "09:00–09:00" never reaches sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    start: NaiveTime,
    end: NaiveTime,
}

impl Window {
    pub(crate) const WHOLE_DAY: Window = Window {
        start: NaiveTime::MIN,
        end: NaiveTime::MIN,
    };

    /// The window from `start` to `end`, local time; equal ends only as 00:00–00:00.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Self> {
        let window = Window { start, end };
        if start == end && window != Window::WHOLE_DAY {
            return Err(Error::invalid(
                "window",
                "start and end are equal; use 00:00–00:00 for the whole day",
            ));
        }
        Ok(window)
    }

    pub fn start(&self) -> NaiveTime {
        self.start
    }

    pub fn end(&self) -> NaiveTime {
        self.end
    }

    pub(crate) fn is_whole_day(&self) -> bool {
        *self == Window::WHOLE_DAY
    }

    pub(crate) fn is_overnight(&self) -> bool {
        self.end < self.start
    }

    /// Whether the window closes on the day after it opens (overnight, or the whole day).
    fn closes_next_day(&self) -> bool {
        self.is_overnight() || self.is_whole_day()
    }

    /// Whether a local time of day lies in the window (ignoring day restrictions).
    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.is_whole_day() {
            true
        } else if self.is_overnight() {
            time >= self.start || time < self.end
        } else {
            self.start <= time && time < self.end
        }
    }
}

/// How many local days ahead the search for an opening looks. A year plus margin covers any
/// real calendar; only a pathological holiday list (every day for > 400 days) exhausts it.
pub(crate) const SEARCH_DAYS: u32 = 400;

/// When a text may go out, and what held it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    pub at: DateTime<Utc>,
    /// `None` when `now` itself is allowed; otherwise the first thing that blocked it.
    pub reason: Option<DeferReason>,
}

/// `now` when it falls inside an allowed window, otherwise the next window opening.
///
/// See [`Window`] for same-day, overnight and whole-day windows. With `weekdays_only`, Saturdays and
/// Sundays are excluded; dates in `holidays` are excluded. A window edge at a local time skipped
/// by a DST change resolves to the first valid instant after it; a repeated time to the earlier
/// instant (see [`local_to_utc`]). If no allowed day exists within [`SEARCH_DAYS`], returns `now + SEARCH_DAYS` days
/// (the caller re-evaluates then). Says why `now` was not allowed, when it was not.
pub(crate) fn next_opening(
    now: DateTime<Utc>,
    zone: Tz,
    window: Window,
    weekdays_only: bool,
    holidays: Option<&BTreeSet<NaiveDate>>,
) -> Opening {
    let today = now.with_timezone(&zone).date_naive();
    // An overnight window opened yesterday may still be open now.
    let mut day = today.pred_opt().unwrap_or(today);
    let mut first_block: Option<DeferReason> = None;
    for _ in 0..=SEARCH_DAYS + 1 {
        if let Some((open, close)) = interval(zone, day, window) {
            // A window swallowed whole by a DST gap (or Samoa's skipped day) is empty.
            if close > now && open < close {
                match blocked(day, weekdays_only, holidays) {
                    None if open <= now => {
                        return Opening {
                            at: now,
                            reason: None,
                        };
                    }
                    None => {
                        let reason = first_block.unwrap_or(DeferReason::Window);
                        return Opening {
                            at: open.max(now),
                            reason: Some(reason),
                        };
                    }
                    Some(block) => {
                        first_block.get_or_insert(block);
                    }
                }
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    let give_up = now
        .checked_add_signed(TimeDelta::days(i64::from(SEARCH_DAYS)))
        .unwrap_or(now);
    Opening {
        at: give_up,
        reason: Some(first_block.unwrap_or(DeferReason::Window)),
    }
}

/// Why a local day is closed for sending, if it is.
fn blocked(
    day: NaiveDate,
    weekdays_only: bool,
    holidays: Option<&BTreeSet<NaiveDate>>,
) -> Option<DeferReason> {
    if holidays.is_some_and(|h| h.contains(&day)) {
        return Some(DeferReason::Holiday);
    }
    if weekdays_only && matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        return Some(DeferReason::Weekend);
    }
    None
}

/// The UTC interval of the window opening on local `day`.
fn interval(zone: Tz, day: NaiveDate, window: Window) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let open = local_to_utc(day, window.start, zone);
    let end_day = if window.closes_next_day() {
        day.succ_opt()?
    } else {
        day
    };
    let close = local_to_utc(end_day, window.end, zone);
    Some((open, close))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;
    use chrono_tz::{America::New_York, Asia::Shanghai, Pacific::Apia};

    fn next_allowed(
        now: DateTime<Utc>,
        zone: Tz,
        window: Window,
        weekdays_only: bool,
        holidays: Option<&BTreeSet<NaiveDate>>,
    ) -> DateTime<Utc> {
        next_opening(now, zone, window, weekdays_only, holidays).at
    }

    fn t(hm: &str) -> NaiveTime {
        NaiveTime::parse_from_str(hm, "%H:%M").unwrap()
    }

    fn w(start: &str, end: &str) -> Window {
        Window::new(t(start), t(end)).unwrap()
    }

    fn local(zone: Tz, text: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
        local_to_utc(naive.date(), naive.time(), zone)
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn golden_week() -> BTreeSet<NaiveDate> {
        (1..=7)
            .map(|d| NaiveDate::from_ymd_opt(2026, 10, d).unwrap())
            .collect()
    }

    /// (zone, now local, window, weekdays_only, use holidays, expected local, reason)
    type Case = (
        Tz,
        &'static str,
        Window,
        bool,
        bool,
        &'static str,
        Option<DeferReason>,
    );

    #[test]
    fn table_of_openings() {
        let hol = golden_week();
        use DeferReason::{Holiday, Weekend, Window as Win};
        let cases: &[Case] = &[
            (
                Shanghai,
                "2026-05-08 19:59",
                w("09:00", "20:00"),
                false,
                false,
                "2026-05-08 19:59",
                None,
            ),
            (
                Shanghai,
                "2026-05-08 20:00",
                w("09:00", "20:00"),
                false,
                false,
                "2026-05-09 09:00",
                Some(Win),
            ),
            (
                Shanghai,
                "2026-05-07 08:59",
                w("09:00", "20:00"),
                false,
                false,
                "2026-05-07 09:00",
                Some(Win),
            ),
            (
                Shanghai,
                "2026-05-07 09:00",
                w("09:00", "20:00"),
                true,
                false,
                "2026-05-07 09:00",
                None,
            ),
            // Friday evening, weekdays only: the next plain opening (Saturday) is a weekend.
            (
                Shanghai,
                "2026-05-08 20:00",
                w("09:00", "20:00"),
                true,
                false,
                "2026-05-11 09:00",
                Some(Weekend),
            ),
            (
                Shanghai,
                "2026-05-09 10:00",
                w("09:00", "20:00"),
                true,
                false,
                "2026-05-11 09:00",
                Some(Weekend),
            ),
            (
                Shanghai,
                "2026-05-10 08:00",
                w("09:00", "20:00"),
                true,
                false,
                "2026-05-11 09:00",
                Some(Weekend),
            ),
            // Golden week: Sep 30 evening → Oct 8 (Thursday), held back by the holiday first.
            (
                Shanghai,
                "2026-09-30 20:30",
                w("09:00", "20:00"),
                true,
                true,
                "2026-10-08 09:00",
                Some(Holiday),
            ),
            // Oct 3 is a Saturday *and* a holiday: the holiday is named.
            (
                Shanghai,
                "2026-10-03 12:00",
                w("09:00", "20:00"),
                true,
                true,
                "2026-10-08 09:00",
                Some(Holiday),
            ),
            // Holidays not applied when not passed.
            (
                Shanghai,
                "2026-10-01 12:00",
                w("09:00", "20:00"),
                false,
                false,
                "2026-10-01 12:00",
                None,
            ),
            (
                New_York,
                "2026-05-08 19:59",
                w("09:00", "20:00"),
                false,
                false,
                "2026-05-08 19:59",
                None,
            ),
            (
                New_York,
                "2026-05-08 20:00",
                w("09:00", "20:00"),
                true,
                false,
                "2026-05-11 09:00",
                Some(Weekend),
            ),
            // DST starts 2026-03-08 in New York (02:00 → 03:00).
            (
                New_York,
                "2026-03-08 08:00",
                w("09:00", "20:00"),
                false,
                false,
                "2026-03-08 09:00",
                Some(Win),
            ),
            (
                New_York,
                "2026-03-07 21:00",
                w("09:00", "20:00"),
                false,
                false,
                "2026-03-08 09:00",
                Some(Win),
            ),
            // Overnight window belongs to the day it opens; whole-day window always open.
            (
                Shanghai,
                "2026-05-07 03:00",
                w("22:00", "06:00"),
                false,
                false,
                "2026-05-07 03:00",
                None,
            ),
            (
                Shanghai,
                "2026-05-07 12:00",
                w("22:00", "06:00"),
                false,
                false,
                "2026-05-07 22:00",
                Some(Win),
            ),
            // Saturday 03:00 is still inside Friday's night; Saturday noon waits for Monday.
            (
                Shanghai,
                "2026-05-09 03:00",
                w("22:00", "06:00"),
                true,
                false,
                "2026-05-09 03:00",
                None,
            ),
            (
                Shanghai,
                "2026-05-09 12:00",
                w("22:00", "06:00"),
                true,
                false,
                "2026-05-11 22:00",
                Some(Weekend),
            ),
            (
                Shanghai,
                "2026-05-07 03:00",
                w("00:00", "00:00"),
                false,
                false,
                "2026-05-07 03:00",
                None,
            ),
        ];
        for (zone, now, window, weekdays, use_hol, expected, reason) in cases {
            let now_utc = local(*zone, now);
            let holidays = use_hol.then_some(&hol);
            let got = next_opening(now_utc, *zone, *window, *weekdays, holidays);
            let want = Opening {
                at: local(*zone, expected),
                reason: *reason,
            };
            assert_eq!(
                got, want,
                "{zone} {now} {window:?} weekdays={weekdays} holidays={use_hol}"
            );
            assert_eq!(
                next_allowed(now_utc, *zone, *window, *weekdays, holidays),
                want.at
            );
        }
    }

    #[test]
    fn window_start_in_a_dst_gap_opens_at_the_first_valid_instant() {
        // 02:30 does not exist on 2026-03-08 in New York; 03:00 EDT = 07:00 UTC does.
        let now = "2026-03-08T06:00:00Z".parse().unwrap(); // 01:00 EST
        let got = next_allowed(now, New_York, w("02:30", "20:00"), false, None);
        assert_eq!(
            got,
            "2026-03-08T07:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        // The day after, 02:30 exists again (EDT, UTC-4).
        let later = "2026-03-09T01:00:00Z".parse().unwrap();
        let got = next_allowed(later, New_York, w("02:30", "20:00"), false, None);
        assert_eq!(
            got,
            "2026-03-09T06:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn repeated_local_time_resolves_to_the_earlier_instant() {
        // 01:30 happens twice on 2026-11-01 in New York; the EDT one is 05:30 UTC.
        assert_eq!(
            local_to_utc(day("2026-11-01"), t("01:30"), New_York),
            "2026-11-01T05:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn a_skipped_calendar_day_is_skipped() {
        // Samoa jumped from 2011-12-29 to 2011-12-31: no window on the 30th.
        let now = local(Apia, "2011-12-29 21:00");
        let got = next_allowed(now, Apia, w("09:00", "20:00"), false, None);
        assert_eq!(got, local(Apia, "2011-12-31 09:00"));
        assert_eq!(
            got,
            "2011-12-30T19:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn search_is_bounded_when_every_day_is_a_holiday() {
        let start = day("2026-01-01");
        let all: BTreeSet<NaiveDate> = start.iter_days().take(600).collect();
        let now = local(Shanghai, "2026-01-01 10:00");
        let got = next_opening(now, Shanghai, w("09:00", "20:00"), false, Some(&all));
        let bound = now + TimeDelta::days(i64::from(SEARCH_DAYS));
        assert_eq!(
            got,
            Opening {
                at: bound,
                reason: Some(DeferReason::Holiday)
            }
        );
    }

    #[test]
    fn contains_matches_the_interval_semantics() {
        assert!(w("09:00", "20:00").contains(t("09:00")));
        assert!(!w("09:00", "20:00").contains(t("20:00")));
        assert!(w("22:00", "06:00").contains(t("23:00")));
        assert!(w("22:00", "06:00").contains(t("05:59")));
        assert!(!w("22:00", "06:00").contains(t("06:00")));
        assert!(w("00:00", "00:00").contains(t("13:00")));
    }

    #[test]
    fn windows_are_same_day_overnight_or_the_whole_day() {
        let day = w("09:00", "20:00");
        assert!(!day.is_overnight() && !day.is_whole_day());
        let night = w("22:00", "06:00");
        assert!(night.is_overnight() && !night.is_whole_day());
        assert_eq!(w("00:00", "00:00"), Window::WHOLE_DAY);
        assert!(Window::WHOLE_DAY.is_whole_day() && !Window::WHOLE_DAY.is_overnight());
        let equal = Window::new(t("09:00"), t("09:00")).unwrap_err();
        assert!(equal
            .to_string()
            .contains("use 00:00–00:00 for the whole day"));
    }

    #[test]
    fn the_whole_day_window_is_open_at_every_minute_of_every_day() {
        for now in ["2026-05-07 00:00", "2026-05-07 23:59", "2026-03-08 02:59"] {
            let at = local(New_York, now);
            let got = next_opening(at, New_York, Window::WHOLE_DAY, false, None);
            assert_eq!(got, Opening { at, reason: None }, "{now}");
        }
        // Weekdays only: Saturday waits for Monday 00:00.
        let saturday = local(Shanghai, "2026-05-09 12:00");
        let got = next_opening(saturday, Shanghai, Window::WHOLE_DAY, true, None);
        assert_eq!(
            got,
            Opening {
                at: local(Shanghai, "2026-05-11 00:00"),
                reason: Some(DeferReason::Weekend)
            }
        );
    }
}
