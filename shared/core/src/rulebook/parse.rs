//! Parsing a rulebook file: YAML → file structs → validated, compiled [`Rulebook`].
//!
//! Syntax and shape errors stop at the first one (serde cannot go on); every semantic problem
//! after that is collected so one run of `nudge rules check` shows them all.
use chrono::NaiveDate;
use serde_saphyr::Spanned;
use std::collections::BTreeSet;

use super::check::{
    hhmm, is_identifier, keyword, message, positive_span, segments, span, time_of_day, Checker,
    BUILT_IN_VARIABLES,
};
use super::error::{Problem, RulebookErrors};
use super::file::{
    CapActionFile, CategoryFile, NumberHygieneFile, PolicyFile, RepliesFile, RulebookFile,
    WindowFile,
};
use super::holidays;
use super::model::Rulebook;
use super::rules::RuleScope;
use crate::domain::{parse_zone, Category, Origination, PhoneNumber, Span, TenantId};
use crate::policy::{
    has_control_character, CapAction, CategoryPolicy, NumberHygiene, Policy, Window,
};
use crate::reply::{OptOutManager, ReplySettings};

const DEFAULT_FOOTER: &str = "回复TD退订";
const DEFAULT_BANNED: [&str; 2] = ["最后机会", "清仓"];
const DEFAULT_MAX_SEGMENTS: u32 = 3;
/// The most undelivered outcomes in a row `number_hygiene` may wait for.
const MAX_HYGIENE_OUTCOMES: u32 = 100;

/// Parses and validates a rulebook. `file` is only used to name the file in problems.
pub fn parse(source: &str, file: &str) -> Result<Rulebook, RulebookErrors> {
    let raw: RulebookFile = serde_saphyr::from_str(source)
        .map_err(|err| RulebookErrors::new(vec![syntax_problem(&err, source, file)]))?;
    let mut checker = Checker::new(file);
    let book = checker.rulebook(&raw);
    match book {
        Some(book) if checker.problems.is_empty() => Ok(book),
        _ => {
            if checker.problems.is_empty() {
                // Every failed step reports; this only guards that invariant.
                checker.problems.push(Problem {
                    file: file.to_string(),
                    line: 0,
                    column: 0,
                    message: "rulebook is invalid".into(),
                });
            }
            Err(RulebookErrors::new(checker.problems))
        }
    }
}

/// One clean line from a serde-saphyr error: its message without snippet, ANSI codes or
/// location suffix, prefixed with the key when the message does not already name it.
fn syntax_problem(err: &serde_saphyr::Error, source: &str, file: &str) -> Problem {
    use serde_saphyr::MessageFormatter;
    let inner = err.without_snippet();
    let raw = serde_saphyr::UserMessageFormatter.format_message(inner);
    let mut message: String = strip_ansi(&raw)
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    let (line, column) = err
        .location()
        .map(|l| (l.line(), l.column()))
        .unwrap_or((0, 0));
    if let Some(key) = key_before(source, line, column) {
        if !message.contains(&format!("`{key}`")) {
            message = format!("`{key}`: {message}");
        }
    }
    Problem {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI sequence: ESC [ params final-byte (a letter).
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The mapping key written just before a position (`max_segments: lots` → `max_segments`).
fn key_before(source: &str, line: u64, column: u64) -> Option<String> {
    let text = source
        .lines()
        .nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let before: String = text
        .chars()
        .take(usize::try_from(column).ok()?.saturating_sub(1))
        .collect();
    let before = before.trim_end().strip_suffix(':')?.trim_end();
    let start = before.rfind(['{', ',', ' ', '-']).map_or(0, |i| i + 1);
    let key = before[start..].trim_matches(|c| c == '"' || c == '\'');
    (!key.is_empty()).then(|| key.to_string())
}

/// A phone number written in E.164 form, as the rulebook's own numbers must be.
pub(super) fn e164(text: &str) -> Result<PhoneNumber, String> {
    let phone = PhoneNumber::parse(text, None).map_err(message)?;
    if !text.trim().starts_with('+') {
        return Err(format!(
            "number {text:?} must be written in E.164 form (+8610…)"
        ));
    }
    Ok(phone)
}

impl Checker<'_> {
    fn rulebook(&mut self, raw: &RulebookFile) -> Option<Rulebook> {
        let tenant = self.check(&raw.tenant, |t| {
            TenantId::parse(t.as_str()).map_err(message)
        });
        let brand = self.check(&raw.brand, |b| brand(b));
        let timezone = self.check(&raw.timezone, |z| parse_zone(z).map_err(message));
        let locale = match &raw.locale {
            Some(l) => self.check(l, |l| locale(l)).map(Some),
            None => Some(None),
        };
        let phone_region = match &raw.phone_region {
            Some(r) => self.check(r, |r| region(r)).map(Some),
            None => Some(None),
        };
        let mut numbers = Some(Vec::new());
        for number in &raw.numbers {
            let parsed = self.check(number, |n| e164(n));
            match (parsed, &mut numbers) {
                (Some(phone), Some(all)) => all.push(phone),
                _ => numbers = None,
            }
        }
        let origination = match &raw.sender {
            Some(sender) => self.sender(sender).map(Some),
            None => Some(None),
        };
        // Replies to the number texts come from are the tenant's, listed or not.
        if let (Some(Some(Origination::Number(own))), Some(all)) = (&origination, &mut numbers) {
            if !all.contains(own) {
                all.push(own.clone());
            }
        }
        let holidays = self.holidays(&raw.holidays);
        let attributes = self.attributes(&raw.attributes);
        let policy = self.policy(&raw.policy);
        let is_english = raw
            .locale
            .as_ref()
            .is_some_and(|l| l.value.starts_with("en"));
        // Content lint of texts uses what is valid of the policy, even if other parts are not.
        let banned = banned_phrases(&raw.policy);
        // A control character in the brand or footer is reported there once, not again in
        // every text composed with them.
        let printable = |text: &str| text.chars().filter(|c| !c.is_control()).collect::<String>();
        let footer = printable(
            raw.policy
                .opt_out_footer
                .as_ref()
                .map_or(DEFAULT_FOOTER, |f| f.value.as_str()),
        );
        let footer = footer.as_str();
        let brand_for_lint = printable(raw.brand.value.trim());
        let scope = RuleScope {
            attributes: &attributes,
            brand: &brand_for_lint,
            banned: &banned,
            footer,
            extra_reply_words: reply_words(&raw.replies),
        };
        let replies = self.replies(&raw.replies, is_english, &scope);
        let rules = self.rules(&raw.rules, &scope);
        Some(Rulebook {
            tenant: tenant?,
            brand: brand?,
            timezone: timezone?,
            locale: locale?,
            phone_region: phone_region?,
            numbers: numbers?,
            origination: origination?,
            holidays: holidays?,
            attributes,
            policy: policy?,
            replies: replies?,
            rules: rules?,
        })
    }

    fn holidays(&mut self, raw: &[Spanned<String>]) -> Option<BTreeSet<NaiveDate>> {
        let mut dates = BTreeSet::new();
        let mut ok = true;
        for entry in raw {
            let found = self.check(entry, |text| {
                if let Some(calendar) = holidays::calendar(text) {
                    return Ok(calendar);
                }
                if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
                    return Ok(vec![date]);
                }
                Err(format!(
                    "holiday {text:?} is neither a date (YYYY-MM-DD) nor a built-in calendar ({})",
                    holidays::CALENDARS.join(", ")
                ))
            });
            match found {
                Some(found) => dates.extend(found),
                None => ok = false,
            }
        }
        ok.then_some(dates)
    }

    /// Invalid names are reported and left out, so rules are still checked against the rest.
    fn attributes(&mut self, raw: &[Spanned<String>]) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for entry in raw {
            let name = entry.value.as_str();
            if !is_identifier(name) {
                self.report(
                    entry.referenced,
                    format!("attribute {name:?} must be a name of letters, digits and _"),
                );
            } else if BUILT_IN_VARIABLES.contains(&name) || name == "event" {
                self.report(entry.referenced, format!("attribute `{name}` is built in"));
            } else if !names.insert(name.to_string()) {
                self.report(
                    entry.referenced,
                    format!("attribute `{name}` is listed twice"),
                );
            }
        }
        names
    }

    fn policy(&mut self, raw: &PolicyFile) -> Option<Policy> {
        let window = match &raw.window {
            Some(w) => self.window(w),
            // 09:00–20:00 is a valid window, so this is never `None`.
            None => Window::new(hhmm(9, 0), hhmm(20, 0)).ok(),
        };
        let transactional =
            self.category_policy(raw.transactional.as_ref(), Category::Transactional);
        let care = self.category_policy(raw.care.as_ref(), Category::Care);
        let marketing = self.category_policy(raw.marketing.as_ref(), Category::Marketing);
        let same_rule_min_gap = match &raw.same_rule_min_gap {
            Some(gap) => self.check(gap, |g| gap_span(g)),
            None => Some(None),
        };
        let opt_out_footer = match &raw.opt_out_footer {
            Some(f) => self.check(f, |f| {
                if has_control_character(f) {
                    return Err(format!(
                        "opt_out_footer {f:?} must not contain control characters"
                    ));
                }
                non_empty(f, "opt_out_footer")
            }),
            None => Some(DEFAULT_FOOTER.to_string()),
        };
        let mut phrases_ok = true;
        for phrase in raw.banned_phrases.iter().flatten() {
            phrases_ok &= self
                .check(phrase, |p| non_empty(p, "a banned phrase"))
                .is_some();
        }
        let max_segments = match &raw.max_segments {
            Some(m) => self.check(m, |m| segments(*m)),
            None => Some(DEFAULT_MAX_SEGMENTS),
        };
        let number_hygiene = self.number_hygiene(raw.number_hygiene.as_ref());
        Some(Policy {
            window: window?,
            transactional: transactional?,
            care: care?,
            marketing: marketing?,
            same_rule_min_gap: same_rule_min_gap?,
            opt_out_footer: opt_out_footer?,
            banned_phrases: phrases_ok.then(|| banned_phrases(raw))?,
            max_segments: max_segments?,
            number_hygiene: number_hygiene?,
        })
    }

    fn number_hygiene(&mut self, raw: Option<&NumberHygieneFile>) -> Option<NumberHygiene> {
        let defaults = NumberHygiene::default();
        let Some(raw) = raw else {
            return Some(defaults);
        };
        let mut count = |value: &Option<Spanned<u32>>, default: u32| {
            match value {
            Some(v) => self.check(v, |n| {
                if *n <= MAX_HYGIENE_OUTCOMES {
                    Ok(*n)
                } else {
                    Err(format!(
                        "{n} outcomes in a row: at most {MAX_HYGIENE_OUTCOMES} (0 never gives the number up)"
                    ))
                }
            }),
            None => Some(default),
        }
        };
        let invalid_number = count(&raw.invalid_number, defaults.invalid_number);
        let unreachable = count(&raw.unreachable, defaults.unreachable);
        let blocked = count(&raw.blocked, defaults.blocked);
        Some(NumberHygiene {
            invalid_number: invalid_number?,
            unreachable: unreachable?,
            blocked: blocked?,
        })
    }

    fn window(&mut self, raw: &WindowFile) -> Option<Window> {
        let start = self.check(&raw.start, |t| time_of_day(t));
        let end = self.check(&raw.end, |t| time_of_day(t));
        let (start, end) = (start?, end?);
        self.check(&raw.end, |_| Window::new(start, end).map_err(message))
    }

    fn category_policy(
        &mut self,
        raw: Option<&Spanned<CategoryFile>>,
        category: Category,
    ) -> Option<CategoryPolicy> {
        let default_cap = if category == Category::Care {
            CapAction::Defer
        } else {
            CapAction::Skip
        };
        let Some(raw) = raw else {
            return Some(CategoryPolicy {
                on_cap: default_cap,
                ..CategoryPolicy::default()
            });
        };
        let raw = &raw.value;
        let window = match &raw.window {
            Some(w) => self.window(w).map(Some),
            None => Some(None),
        };
        let mut caps_ok = true;
        for cap in [&raw.per_week, &raw.per_30_days].into_iter().flatten() {
            caps_ok &= self.check(cap, |n| at_least_one(*n)).is_some();
        }
        let min_gap = match &raw.min_gap {
            Some(gap) => self.check(gap, |g| gap_span(g)),
            None => Some(None),
        };
        if category == Category::Transactional {
            let capped = [&raw.per_week, &raw.per_30_days]
                .into_iter()
                .flatten()
                .map(|c| c.referenced)
                .chain(raw.min_gap.iter().map(|g| g.referenced))
                .chain(raw.on_cap.iter().map(|c| c.referenced))
                .next();
            if let Some(at) = capped {
                self.report(
                    at,
                    "transactional texts are exempt from caps; remove the cap",
                );
                caps_ok = false;
            }
        }
        let on_cap = match raw.on_cap.as_ref().map(|c| c.value) {
            Some(CapActionFile::Skip) => CapAction::Skip,
            Some(CapActionFile::Defer) => CapAction::Defer,
            None => default_cap,
        };
        caps_ok.then_some(())?;
        Some(CategoryPolicy {
            window: window?,
            weekdays_only: raw.weekdays_only,
            skip_holidays: raw.skip_holidays,
            per_week: raw.per_week.as_ref().map(|c| c.value),
            per_30_days: raw.per_30_days.as_ref().map(|c| c.value),
            min_gap: min_gap?,
            on_cap,
        })
    }

    fn replies(
        &mut self,
        raw: &RepliesFile,
        is_english: bool,
        scope: &RuleScope<'_>,
    ) -> Option<ReplySettings> {
        let mut words_ok = true;
        let mut lists = [Vec::new(), Vec::new(), Vec::new()];
        let sources = [&raw.opt_out_words, &raw.opt_in_words, &raw.help_words];
        for (list, source) in lists.iter_mut().zip(sources) {
            for word in source {
                match self.check(word, |w| keyword(w)) {
                    Some(w) => list.push(w),
                    None => words_ok = false,
                }
            }
        }
        let (out_default, in_default, help_default) = if is_english {
            (
                "You are unsubscribed. Reply START to subscribe again.",
                "You are subscribed again. Reply STOP to unsubscribe.",
                "For help, contact customer service. Reply STOP to unsubscribe.",
            )
        } else {
            (
                "已退订，回复START可恢复",
                "已恢复订阅，回复TD退订",
                "如需帮助请联系客服，回复TD退订",
            )
        };
        let mut text = |raw: &Option<Spanned<String>>, default: &str, name: &str| match raw {
            Some(t) => self.check(t, |t| {
                non_empty(t, name)?;
                let problems = scope.lint(t, Category::Transactional);
                if problems.is_empty() {
                    Ok(t.clone())
                } else {
                    Err(problems.join("; "))
                }
            }),
            None => Some(default.to_string()),
        };
        let opt_out_confirmation = text(&raw.opt_out_confirmation, out_default, "the text");
        let opt_in_confirmation = text(&raw.opt_in_confirmation, in_default, "the text");
        let help_text = text(&raw.help_text, help_default, "the text");
        let keyword_context = match &raw.keyword_context {
            Some(c) => self.check(c, |c| positive_span(c)),
            None => Some(Span::from_seconds(72 * 3_600)),
        };
        let opt_outs_managed_by = match &raw.opt_outs_managed_by {
            Some(who) => self.check(who, |w| OptOutManager::parse(w)),
            None => Some(OptOutManager::default()),
        };
        words_ok.then_some(())?;
        let [extra_opt_out, extra_opt_in, extra_help] = lists;
        Some(ReplySettings {
            extra_opt_out,
            extra_opt_in,
            extra_help,
            opt_out_confirmation: opt_out_confirmation?,
            opt_in_confirmation: opt_in_confirmation?,
            help_text: help_text?,
            keyword_context: keyword_context?,
            opt_outs_managed_by: opt_outs_managed_by?,
        })
    }
}

fn banned_phrases(raw: &PolicyFile) -> Vec<String> {
    match &raw.banned_phrases {
        Some(list) => list
            .iter()
            .map(|p| p.value.clone())
            .filter(|p| !p.trim().is_empty())
            .collect(),
        None => DEFAULT_BANNED.iter().map(|p| p.to_string()).collect(),
    }
}

/// The tenant's extra reply words, normalised (invalid ones are reported elsewhere).
fn reply_words(raw: &RepliesFile) -> BTreeSet<String> {
    [&raw.opt_out_words, &raw.opt_in_words, &raw.help_words]
        .into_iter()
        .flatten()
        .filter_map(|w| keyword(&w.value).ok())
        .collect()
}

/// A minimum gap; `0s` means none.
fn gap_span(text: &str) -> Result<Option<Span>, String> {
    let span = span(text)?;
    if span.approx_seconds() < 0 {
        return Err(format!("{text:?} must not be negative"));
    }
    Ok((!span.is_zero()).then_some(span))
}

fn brand(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("brand must not be empty".into());
    }
    if trimmed.chars().any(char::is_control) {
        // A NUL, newline or escape in the signature would reach every text and the handset
        // (a line break, which a text may hold, would split the signature from its text).
        return Err(format!(
            "brand {trimmed:?} must not contain control characters"
        ));
    }
    if trimmed.contains(['【', '】']) {
        return Err(format!(
            "brand {trimmed:?} must be written without 【】; nudge adds them"
        ));
    }
    Ok(trimmed.to_string())
}

fn locale(text: &str) -> Result<String, String> {
    let mut parts = text.split(['-', '_']);
    let language = parts.next().unwrap_or_default();
    let language_ok =
        (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic());
    let rest_ok =
        parts.all(|p| (2..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()));
    if language_ok && rest_ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "locale {text:?} is not a language tag such as zh-CN or en-US"
        ))
    }
}

fn region(text: &str) -> Result<String, String> {
    text.parse::<phonenumber::country::Id>()
        .map(|_| text.to_string())
        .map_err(|_| format!("phone_region {text:?} is not an ISO 3166 region code such as CN"))
}

fn non_empty(text: &str, what: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(format!("{what} must not be empty"));
    }
    Ok(text.to_string())
}

fn at_least_one(n: u32) -> Result<u32, String> {
    if n == 0 {
        return Err("a cap of 0 would block every text; remove the rule instead".into());
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_key_before_an_error_position() {
        let source = "a: 1\n    max_segments: lots\ntrigger: {date: x, times: many}\n";
        assert_eq!(key_before(source, 2, 19).as_deref(), Some("max_segments"));
        assert_eq!(key_before(source, 3, 27).as_deref(), Some("times"));
        assert_eq!(key_before(source, 1, 1), None);
    }

    #[test]
    fn strips_ansi_sequences() {
        assert_eq!(strip_ansi("\u{1b}[31mbad\u{1b}[0m key"), "bad key");
    }
}
