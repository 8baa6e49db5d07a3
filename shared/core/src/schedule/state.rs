//! State triggers (`date`, `anniversary`, `inactive`, `every`): the next pending occurrence,
//! recomputed from the customer whenever it changes.
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Utc};
use chrono_tz::Tz;

use super::local::{attribute_date, ceil_to_minute, AttrInstant};
use super::Due;
use crate::domain::{local_to_utc, Customer, Span};

/// Local time of an anniversary without `at`: a greeting at midnight would wait for the send
/// window anyway, so pick a civil hour.
pub(crate) const DEFAULT_ANNIVERSARY_AT: NaiveTime = match NaiveTime::from_hms_opt(10, 0, 0) {
    Some(time) => time,
    None => NaiveTime::MIN,
};

/// Where a trigger's arithmetic happens.
#[derive(Clone, Copy, Debug)]
enum Anchor {
    /// Local wall-clock time: spans move the calendar and the clock, DST is resolved last, so
    /// `7d` after 10:00 is 10:00 again even across a DST change.
    Local(NaiveDateTime),
    /// An exact instant: spans are added in UTC (calendar months on the UTC date).
    Instant(DateTime<Utc>),
}

impl Anchor {
    /// With `at`, the attribute's local date at that time; a bare date is local midnight; an
    /// instant stays exact.
    fn new(attr: AttrInstant, at: Option<NaiveTime>, zone: Tz) -> Self {
        match (attr, at) {
            (_, Some(at)) => Anchor::Local(attr.local_date(zone).and_time(at)),
            (AttrInstant::Date(date), None) => Anchor::Local(date.and_time(NaiveTime::MIN)),
            (AttrInstant::Instant(instant), None) => Anchor::Instant(instant),
        }
    }

    fn shifted(&self, span: Span, zone: Tz) -> Option<DateTime<Utc>> {
        match self {
            Anchor::Local(local) => {
                // Span arithmetic on a naive value read as UTC is pure calendar arithmetic.
                let moved = span.add_to(local.and_utc())?.naive_utc();
                Some(local_to_utc(moved.date(), moved.time(), zone))
            }
            Anchor::Instant(instant) => span.add_to(*instant),
        }
    }
}

/// The occurrence at `raw` if it is still pending at `now`, named by its local date.
fn pending_on_local_date(raw: DateTime<Utc>, zone: Tz, now: DateTime<Utc>) -> Option<Due> {
    let due = ceil_to_minute(raw);
    (due >= now).then(|| Due {
        occurrence: raw
            .with_timezone(&zone)
            .date_naive()
            .format("%Y-%m-%d")
            .to_string(),
        due,
    })
}

fn attribute(customer: &Customer, name: &str) -> Option<AttrInstant> {
    attribute_date(customer.attributes.get(name)?)
}

/// Once, at the attribute + offset.
pub(super) fn date(
    customer: &Customer,
    name: &str,
    offset: Span,
    at: Option<NaiveTime>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Option<Due> {
    let raw = Anchor::new(attribute(customer, name)?, at, zone).shifted(offset, zone)?;
    pending_on_local_date(raw, zone, now)
}

/// Yearly on the attribute's month/day (after its own year) + offset.
pub(super) fn anniversary(
    customer: &Customer,
    name: &str,
    offset: Span,
    at: Option<NaiveTime>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Option<Due> {
    let origin = attribute(customer, name)?.local_date(zone);
    let at = at.unwrap_or(DEFAULT_ANNIVERSARY_AT);
    // Years an offset can move an anniversary across, plus slack for zones and leap days.
    let years_moved = u64::from(offset.months.unsigned_abs()) / 12
        + offset.seconds.unsigned_abs() / (365 * 86_400);
    let reach = i32::try_from(years_moved).ok()?.checked_add(2)?;
    let first = now
        .year()
        .saturating_sub(reach)
        .max(origin.year().checked_add(1)?);
    (first..=first.checked_add(reach.checked_mul(2)?)?).find_map(|year| {
        let day = anniversary_in(origin, year)?;
        let due = ceil_to_minute(Anchor::Local(day.and_time(at)).shifted(offset, zone)?);
        (due >= now).then(|| Due {
            occurrence: format!("{year:04}"),
            due,
        })
    })
}

/// The origin's month/day in `year`; Feb 29 falls on Feb 28 in common years.
fn anniversary_in(origin: NaiveDate, year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, origin.month(), origin.day()).or_else(|| {
        let leap_day = origin.month() == 2 && origin.day() == 29;
        leap_day
            .then(|| NaiveDate::from_ymd_opt(year, 2, 28))
            .flatten()
    })
}

/// `after` the last event of a type, once per quiet episode (the episode is named by its
/// baseline, so a newer event re-arms with a new occurrence). Never fires retroactively.
pub(super) fn inactive(
    customer: &Customer,
    event_type: &str,
    after: Span,
    at: Option<NaiveTime>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Option<Due> {
    let baseline = customer.activity.get(event_type)?.last_at?;
    let quiet_until = after.add_to(baseline)?;
    let raw = match at {
        None => quiet_until,
        Some(at) => {
            let day = quiet_until.with_timezone(&zone).date_naive();
            let same_day = local_to_utc(day, at, zone);
            if same_day >= quiet_until {
                same_day
            } else {
                local_to_utc(day.succ_opt()?, at, zone)
            }
        }
    };
    let due = ceil_to_minute(raw);
    (due >= now).then(|| Due {
        occurrence: baseline.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        due,
    })
}

/// At attribute + k·interval for k ≥ 1 (each computed from the attribute, so Jan 31 monthly
/// gives Feb 28 then Mar 31); the first one still pending.
pub(super) fn every(
    customer: &Customer,
    name: &str,
    interval: Span,
    at: Option<NaiveTime>,
    zone: Tz,
    now: DateTime<Utc>,
) -> Option<Due> {
    if interval.is_zero() || interval.months < 0 || interval.seconds < 0 {
        return None;
    }
    let anchor = Anchor::new(attribute(customer, name)?, at, zone);
    let nth = |k: i64| {
        let months = i32::try_from(k.checked_mul(i64::from(interval.months))?).ok()?;
        let seconds = k.checked_mul(interval.seconds)?;
        anchor.shifted(Span { months, seconds }, zone)
    };
    // Occurrences grow with k, so bisect for the first pending one; an overflow counts as
    // pending (it is "later than anything") and then yields None below.
    let is_pending = |k: i64| nth(k).is_none_or(|raw| ceil_to_minute(raw) >= now);
    let (mut lo, mut hi) = (0i64, 1i64 << 40);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if is_pending(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    pending_on_local_date(nth(hi)?, zone, now)
}
