//! Send windows: local time-of-day intervals, optionally restricted to business days.
use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use std::collections::BTreeSet;

use super::DeferReason;
use crate::rulebook::Window;

/// How many local days ahead the search for an opening looks. A year plus margin covers any
/// real calendar; only a pathological holiday list (every day for > 400 days) exhausts it.
pub const SEARCH_DAYS: u32 = 400;

/// When a text may go out, and what held it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opening {
    pub at: DateTime<Utc>,
    /// `None` when `now` itself is allowed; otherwise the first thing that blocked it.
    pub reason: Option<DeferReason>,
}

/// `now` when it falls inside an allowed window, otherwise the next window opening.
///
/// The window is local `[start, end)`; `end < start` means it runs past midnight and belongs to
/// the day it opens on; `start == end` means the whole day. With `weekdays_only`, Saturdays and
/// Sundays are excluded; dates in `holidays` are excluded. A window edge at a local time skipped
/// by a DST change resolves to the first valid instant after it; a repeated time to the earlier
/// instant. If no allowed day exists within [`SEARCH_DAYS`], returns `now + SEARCH_DAYS` days
/// (the caller re-evaluates then).
pub fn next_allowed(
    now: DateTime<Utc>,
    zone: Tz,
    window: Window,
    weekdays_only: bool,
    holidays: Option<&BTreeSet<NaiveDate>>,
) -> DateTime<Utc> {
    next_opening(now, zone, window, weekdays_only, holidays).at
}

/// Like [`next_allowed`], also saying why `now` was not allowed.
pub fn next_opening(
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
            if close > now {
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
    let open = resolve(zone, day.and_time(window.start))?;
    let end_day = if window.end <= window.start {
        day.succ_opt()?
    } else {
        day
    };
    let close = resolve(zone, end_day.and_time(window.end))?;
    Some((open, close))
}

/// The instant a local wall-clock time denotes: the earlier one when it occurs twice, the first
/// valid instant after it when a DST gap skips it.
pub fn resolve(zone: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    if let Some(at) = zone.from_local_datetime(&local).earliest() {
        return Some(at.with_timezone(&Utc));
    }
    // Find the first valid minute (gaps are usually an hour, Samoa 2011 skipped a whole day),
    // then the first valid second before it: gaps need not fall on minute boundaries.
    let mut valid = None;
    for minutes in 1..=26 * 60 {
        let candidate = local.checked_add_signed(TimeDelta::minutes(minutes))?;
        if zone.from_local_datetime(&candidate).earliest().is_some() {
            valid = Some(candidate);
            break;
        }
    }
    let mut hi = valid?;
    let mut lo = hi.checked_sub_signed(TimeDelta::minutes(1))?.max(local);
    // Invariant: `lo` is invalid, `hi` valid.
    while hi - lo > TimeDelta::seconds(1) {
        let mid = lo + (hi - lo) / 2;
        if zone.from_local_datetime(&mid).earliest().is_some() {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    zone.from_local_datetime(&hi)
        .earliest()
        .map(|at| at.with_timezone(&Utc))
}

/// Whether a local time of day lies in the window (ignoring day restrictions).
pub fn contains(window: Window, time: NaiveTime) -> bool {
    match window.start.cmp(&window.end) {
        std::cmp::Ordering::Less => window.start <= time && time < window.end,
        std::cmp::Ordering::Greater => time >= window.start || time < window.end,
        std::cmp::Ordering::Equal => true,
    }
}
