//! What the rulebook checks share: the collector of located problems and the checks of single
//! values (times of day, spans, names, reply keywords) that the file's sections and its rules
//! both use.
use chrono::NaiveTime;
use serde_saphyr::{Location, Spanned};

use super::error::Problem;
use crate::domain::Span;
use crate::error::Error;
use crate::reply;

/// Customer context keys every customer has (see `Customer::to_context`).
pub(super) const BUILT_IN_VARIABLES: [&str; 6] =
    ["id", "phone", "region", "timezone", "locale", "opted_out"];

/// The most SMS segments a text may be allowed, rulebook-wide or by one rule.
const MAX_SEGMENTS_LIMIT: u32 = 10;

/// Collects problems while compiling; each step returns `None` after reporting.
pub(super) struct Checker<'a> {
    file: &'a str,
    pub(super) problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    pub(super) fn new(file: &'a str) -> Self {
        Checker {
            file,
            problems: Vec::new(),
        }
    }
}

impl Checker<'_> {
    pub(super) fn report(&mut self, at: Location, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            line: at.line(),
            column: at.column(),
            message: message.into(),
        });
    }

    /// Validates a spanned value, reporting the error at the value's position.
    pub(super) fn check<T, U>(
        &mut self,
        value: &Spanned<T>,
        validate: impl FnOnce(&T) -> Result<U, String>,
    ) -> Option<U> {
        match validate(&value.value) {
            Ok(ok) => Some(ok),
            Err(message) => {
                self.report(value.referenced, message);
                None
            }
        }
    }
}

/// The library error's message without its field prefix (the position already says where).
pub(super) fn message(err: Error) -> String {
    match err {
        Error::Invalid { message, .. } => message,
        other => other.to_string(),
    }
}

pub(super) fn hhmm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN)
}

pub(super) fn time_of_day(text: &str) -> Result<NaiveTime, String> {
    let valid = text.len() == 5 && text.as_bytes()[2] == b':';
    match NaiveTime::parse_from_str(text, "%H:%M") {
        Ok(time) if valid => Ok(time),
        _ => Err(format!(
            "{text:?} is not a time of day; write HH:MM, e.g. 09:30"
        )),
    }
}

pub(super) fn span(text: &str) -> Result<Span, String> {
    Span::parse(text).map_err(message)
}

pub(super) fn positive_span(text: &str) -> Result<Span, String> {
    let span = span(text)?;
    if span.approx_seconds() <= 0 {
        return Err(format!("{text:?} must be longer than zero"));
    }
    Ok(span)
}

pub(super) fn segments(n: u32) -> Result<u32, String> {
    if !(1..=MAX_SEGMENTS_LIMIT).contains(&n) {
        return Err(format!(
            "max_segments must be between 1 and {MAX_SEGMENTS_LIMIT}"
        ));
    }
    Ok(n)
}

pub(super) fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A reply keyword, normalised exactly as inbound replies are, so a configured keyword and the
/// customer's spelling of it meet.
pub(super) fn keyword(text: &str) -> Result<String, String> {
    let normalized = reply::normalize(text);
    if normalized.is_empty() {
        return Err(format!("reply keyword {text:?} is empty once normalised"));
    }
    Ok(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_normalised() {
        assert_eq!(keyword(" ｔｄ ").unwrap(), "TD");
        assert_eq!(keyword("１").unwrap(), "1");
        assert!(keyword("  ").is_err());
    }

    #[test]
    fn times_of_day_need_hh_mm() {
        assert_eq!(time_of_day("09:30").unwrap(), hhmm(9, 30));
        for bad in ["9:30", "24:00", "09:60", "0930", "09:30:00"] {
            assert!(time_of_day(bad).is_err(), "{bad}");
        }
    }
}
