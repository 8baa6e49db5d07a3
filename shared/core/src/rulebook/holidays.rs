//! Built-in holiday calendars a rulebook may name in `holidays` instead of listing dates.
use chrono::NaiveDate;

/// `(year, month, day)`.
type Ymd = (i32, u32, u32);

/// PRC statutory public holidays of 2026 (State Council notice of November 2025): the days
/// off, as inclusive ranges. The weekend days made working days (调休) cannot be expressed as
/// holidays and are not modelled.
const CN_2026: &[(Ymd, Ymd)] = &[
    ((2026, 1, 1), (2026, 1, 3)),   // 元旦
    ((2026, 2, 15), (2026, 2, 23)), // 春节
    ((2026, 4, 4), (2026, 4, 6)),   // 清明节
    ((2026, 5, 1), (2026, 5, 5)),   // 劳动节
    ((2026, 6, 19), (2026, 6, 21)), // 端午节
    ((2026, 9, 25), (2026, 9, 27)), // 中秋节
    ((2026, 10, 1), (2026, 10, 7)), // 国庆节
];

/// Names of the built-in calendars, for error messages.
pub(super) const CALENDARS: &[&str] = &["cn-2026"];

/// The dates of a built-in calendar, or `None` when the name is not one.
pub(super) fn calendar(name: &str) -> Option<Vec<NaiveDate>> {
    let ranges = match name {
        "cn-2026" => CN_2026,
        _ => return None,
    };
    let mut dates = Vec::new();
    for &((y1, m1, d1), (y2, m2, d2)) in ranges {
        let (Some(first), Some(last)) = (
            NaiveDate::from_ymd_opt(y1, m1, d1),
            NaiveDate::from_ymd_opt(y2, m2, d2),
        ) else {
            continue;
        };
        dates.extend(first.iter_days().take_while(|d| *d <= last));
    }
    Some(dates)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn cn_2026_expands_every_range_inclusively() {
        let dates = calendar("cn-2026").unwrap();
        assert_eq!(dates.len(), 3 + 9 + 3 + 5 + 3 + 3 + 7);
        for day in [
            date(2026, 1, 1),
            date(2026, 2, 23),
            date(2026, 5, 5),
            date(2026, 10, 7),
        ] {
            assert!(dates.contains(&day), "{day}");
        }
        assert!(!dates.contains(&date(2026, 10, 8)));
        assert!(!dates.contains(&date(2026, 2, 14)));
    }

    #[test]
    fn unknown_calendars_are_none() {
        assert!(calendar("cn-2027").is_none());
        assert!(calendar("us-2026").is_none());
    }
}
