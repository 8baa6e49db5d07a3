use chrono::{DateTime, Months, NaiveDate, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::{Error, Result};

/// A signed calendar span as written in rulebooks: `30m`, `72h`, `7d`, `-3d`, `2w`, `3mo`, `1y`,
/// or combinations such as `1d12h`. Months and years are calendar months (Jan 31 + 1mo = Feb 28);
/// everything else is an exact number of seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Span {
    pub months: i32,
    pub seconds: i64,
}

impl Span {
    pub const ZERO: Span = Span {
        months: 0,
        seconds: 0,
    };

    pub(crate) fn from_seconds(seconds: i64) -> Self {
        Span { months: 0, seconds }
    }

    pub fn days(days: i64) -> Self {
        Span::from_seconds(days * 86_400)
    }

    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: &str| {
            Error::invalid(
                "duration",
                format!("{text:?} {why}; write e.g. 30m, 72h, 7d, -3d, 2w, 3mo, 1y or 1d12h"),
            )
        };
        let trimmed = text.trim();
        let (negative, body) = match trimmed.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, trimmed.strip_prefix('+').unwrap_or(trimmed)),
        };
        if body.is_empty() {
            return Err(bad("is empty"));
        }
        let (mut months, mut seconds) = (0i64, 0i64);
        let mut rest = body;
        while !rest.is_empty() {
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad("needs a number before each unit"));
            }
            let number: i64 = rest[..digits]
                .parse()
                .map_err(|_| bad("has a number too large"))?;
            rest = &rest[digits..];
            let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let (is_months, factor) = match unit {
                "s" => (false, 1),
                "m" | "min" => (false, 60),
                "h" => (false, 3_600),
                "d" => (false, 86_400),
                "w" => (false, 7 * 86_400),
                "mo" => (true, 1),
                "y" => (true, 12),
                "" => return Err(bad("needs a unit after each number")),
                _ => return Err(bad(&format!("has unknown unit {unit:?}"))),
            };
            let amount = number
                .checked_mul(factor)
                .ok_or_else(|| bad("is too large"))?;
            if is_months {
                months += amount;
            } else {
                seconds += amount;
            }
        }
        if months > 12 * 200 || seconds > 200 * 366 * 86_400 {
            return Err(bad("is too large"));
        }
        let sign = if negative { -1 } else { 1 };
        Ok(Span {
            months: (months * sign) as i32,
            seconds: seconds * sign,
        })
    }

    pub fn is_zero(&self) -> bool {
        self.months == 0 && self.seconds == 0
    }

    /// Whether the span is a whole number of days (needed where a local time of day is given).
    pub(crate) fn is_whole_days(&self) -> bool {
        self.seconds % 86_400 == 0
    }

    /// Adds the span to an instant: calendar months first, then the exact seconds.
    pub(crate) fn add_to(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let shifted = shift_months(at.date_naive(), self.months)?;
        let at = shifted.and_time(at.time()).and_utc();
        at.checked_add_signed(TimeDelta::try_seconds(self.seconds)?)
    }

    /// Approximate length in seconds (a month counts as 30 days); for comparisons and windows.
    pub fn approx_seconds(&self) -> i64 {
        i64::from(self.months) * 30 * 86_400 + self.seconds
    }

    pub(crate) fn negate(&self) -> Span {
        Span {
            months: -self.months,
            seconds: -self.seconds,
        }
    }
}

fn shift_months(date: NaiveDate, months: i32) -> Option<NaiveDate> {
    if months >= 0 {
        date.checked_add_months(Months::new(months.unsigned_abs()))
    } else {
        date.checked_sub_months(Months::new(months.unsigned_abs()))
    }
}

impl TryFrom<String> for Span {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Span::parse(&value)
    }
}

impl From<Span> for String {
    fn from(value: Span) -> String {
        value.to_string()
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0s");
        }
        let negative = self.months < 0 || self.seconds < 0;
        if negative {
            f.write_str("-")?;
        }
        let months = self.months.unsigned_abs();
        if months > 0 {
            write!(f, "{months}mo")?;
        }
        let mut secs = self.seconds.unsigned_abs();
        for (unit, size) in [("d", 86_400u64), ("h", 3_600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_sign() {
        let cases = [
            ("30m", 0, 1_800),
            ("72h", 0, 259_200),
            ("7d", 0, 604_800),
            ("-3d", 0, -259_200),
            ("+15d", 0, 1_296_000),
            ("2w", 0, 1_209_600),
            ("3mo", 3, 0),
            ("1y", 12, 0),
            ("-1mo", -1, 0),
            ("1d12h", 0, 129_600),
            ("90s", 0, 90),
        ];
        for (text, months, seconds) in cases {
            assert_eq!(
                Span::parse(text).unwrap(),
                Span { months, seconds },
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_malformed_spans() {
        for text in [
            "",
            "7",
            "d",
            "7 days",
            "7x",
            "--3d",
            "99999999999999999999d",
        ] {
            assert!(Span::parse(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn calendar_months_clamp_to_the_end_of_month() {
        let jan31 = NaiveDate::from_ymd_opt(2027, 1, 31)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc();
        let day = |at: Option<DateTime<Utc>>| at.map(|at| at.date_naive());
        assert_eq!(
            day(Span::parse("1mo").unwrap().add_to(jan31)),
            NaiveDate::from_ymd_opt(2027, 2, 28)
        );
        assert_eq!(
            day(Span::parse("-15d").unwrap().add_to(jan31)),
            NaiveDate::from_ymd_opt(2027, 1, 16)
        );
    }

    #[test]
    fn display_round_trips() {
        for text in ["30m", "3d", "-3d", "1mo", "1d12h", "0s"] {
            let span = Span::parse(text).unwrap();
            assert_eq!(Span::parse(&span.to_string()).unwrap(), span);
        }
    }
}
