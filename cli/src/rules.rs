//! `nudge rules check`.
use anyhow::{Context, Result};
use nudge_core::rulebook::{self, Rulebook, Trigger};
use std::path::Path;

use crate::input::{listing, utf8_lines};
use std::process::ExitCode;

/// Reads and compiles a rulebook; problems are printed as `FILE:LINE:COL: message` (a file
/// that is not UTF-8 has one per line where it is not).
pub fn load(path: &Path) -> Result<Result<Rulebook, String>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("{name}: cannot read the rulebook"))?;
    let Ok(source) = std::str::from_utf8(&bytes) else {
        let problems: Vec<String> = utf8_lines(&bytes, &name)
            .into_iter()
            .filter_map(|(_, line)| line.err())
            .collect();
        return Ok(Err(listing(&problems)));
    };
    Ok(rulebook::parse(source, &name).map_err(|errors| errors.to_string()))
}

/// Like [`load`], but a rulebook with problems is an error.
pub fn load_valid(path: &Path) -> Result<Rulebook> {
    load(path)?.map_err(|problems| anyhow::anyhow!("the rulebook has problems:\n{problems}"))
}

pub fn check(path: &Path) -> Result<ExitCode> {
    match load(path)? {
        Err(problems) => {
            eprintln!("{}", problems.trim_end());
            Ok(ExitCode::from(1))
        }
        Ok(book) => {
            crate::outln!(
                "{}: ok — tenant {}, brand 【{}】, zone {}, {} rule(s)",
                path.display(),
                book.tenant,
                book.brand,
                book.timezone,
                book.rules.len()
            );
            for rule in &book.rules {
                crate::outln!(
                    "  {:<28} {:<13} {}",
                    rule.id.as_str(),
                    rule.category.as_str(),
                    describe(&rule.trigger)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn at_suffix(at: &Option<chrono::NaiveTime>) -> String {
    at.map(|t| format!(" at {}", t.format("%H:%M")))
        .unwrap_or_default()
}

/// One line explaining when a trigger fires.
pub fn describe(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Event {
            event_type,
            delay,
            filter,
        } => {
            let mut s = format!("{delay} after each {event_type}");
            if delay.is_zero() {
                s = format!("on each {event_type}");
            }
            if let Some(f) = filter {
                s.push_str(&format!(" where {}", f.source));
            }
            s
        }
        Trigger::Date {
            attribute,
            offset,
            at,
        } => {
            format!("once, {attribute} {}{}", signed(offset), at_suffix(at))
        }
        Trigger::Anniversary {
            attribute,
            offset,
            at,
        } => {
            format!("yearly on {attribute} {}{}", signed(offset), at_suffix(at))
        }
        Trigger::Inactive {
            event_type,
            after,
            at,
        } => {
            format!("after {after} without {event_type}{}", at_suffix(at))
        }
        Trigger::Every {
            attribute,
            interval,
            at,
        } => {
            format!("every {interval} from {attribute}{}", at_suffix(at))
        }
        Trigger::Count {
            event_type,
            times,
            within,
            delay,
        } => {
            let mut s = format!("when {event_type} happens {times} times within {within}");
            if !delay.is_zero() {
                s.push_str(&format!(", {delay} later"));
            }
            s
        }
    }
}

fn signed(span: &nudge_core::domain::Span) -> String {
    if span.is_zero() {
        "+0d".into()
    } else if span.months < 0 || span.seconds < 0 {
        span.to_string()
    } else {
        format!("+{span}")
    }
}
