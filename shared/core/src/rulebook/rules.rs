//! Checking and compiling the `rules:` list: triggers, conditions, templates, reply menus and
//! the static content of texts.
use serde_saphyr::{Location, Spanned};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::check::{
    is_identifier, keyword, message, positive_span, segments, span, time_of_day, Checker,
    BUILT_IN_VARIABLES,
};
use super::file::{GatewayTemplateFile, ReplyFile, RuleFile, TriggerFile};
use super::model::{Condition, GatewayTemplate, ReplyAction, Rule, Template, Trigger};
use super::runtime::{compile_condition, compile_template};
use crate::domain::{Category, RuleId, Span};
use crate::policy::content::{self, ContentProblem};
use crate::reply;

/// Holdouts above half the audience would measure the rule on a minority.
const MAX_HOLDOUT_BP: u32 = 5_000;

/// What rules are checked against: declared attributes and the content policy.
pub(super) struct RuleScope<'a> {
    pub attributes: &'a BTreeSet<String>,
    pub brand: &'a str,
    pub banned: &'a [String],
    pub footer: &'a str,
    /// The tenant's extra opt-out / opt-in / help words, normalised.
    pub extra_reply_words: BTreeSet<String>,
}

impl RuleScope<'_> {
    /// Content problems of a text as written, sent as a `category` text. The text is composed
    /// and linted exactly as it will be at send time, so a text that passes here is not
    /// skipped for its content later (when its variables add nothing wrong); the two checks
    /// only a written text can fail come first.
    pub(super) fn lint(&self, text: &str, category: Category) -> Vec<String> {
        let mut problems = Vec::new();
        if text.trim_start().starts_with('【') {
            problems.push("text starts with 【…】; nudge adds the brand signature itself".into());
        }
        let footer_added = category != Category::Transactional;
        if footer_added && !self.footer.is_empty() && text.contains(self.footer) {
            problems.push(format!(
                "text already contains the opt-out footer {:?}; nudge appends it to care and \
                 marketing texts",
                self.footer
            ));
        }
        let composed = content::compose(self.brand, text, self.footer, category);
        let found = content::lint(&composed, self.brand, self.footer, category, self.banned);
        problems.extend(found.iter().map(explain));
        problems
    }
}

/// A send-time content problem in the words of a rulebook author.
fn explain(problem: &ContentProblem) -> String {
    match problem {
        ContentProblem::BannedPhrase(phrase) => {
            format!("text contains the banned phrase {phrase:?}")
        }
        ContentProblem::FullwidthExclamation => {
            "text contains a full-width \"！\", which is not allowed".into()
        }
        ContentProblem::DoubleQuestion => {
            "text contains a double question mark (\"？？\", \"??\" or \"?？\"), which is not \
             allowed"
                .into()
        }
        ContentProblem::MissingBrand
        | ContentProblem::MissingFooter
        | ContentProblem::ControlCharacter => problem.to_string(),
    }
}

impl Checker<'_> {
    pub(super) fn rules(
        &mut self,
        raw: &Spanned<Vec<RuleFile>>,
        scope: &RuleScope<'_>,
    ) -> Option<Vec<Rule>> {
        if raw.value.is_empty() {
            self.report(raw.referenced, "rules must list at least one rule");
            return None;
        }
        let mut first_line: HashMap<&str, u64> = HashMap::new();
        let mut rules = Vec::new();
        let mut ok = true;
        for rule in &raw.value {
            let id = rule.id.value.as_str();
            let line = rule.id.referenced.line();
            if let Some(first) = first_line.get(id) {
                self.report(
                    rule.id.referenced,
                    format!("duplicate rule id `{id}` (lines {first} and {line})"),
                );
                ok = false;
            } else {
                first_line.insert(id, line);
            }
            match self.rule(rule, scope) {
                Some(rule) => rules.push(rule),
                None => ok = false,
            }
        }
        ok.then_some(rules)
    }

    fn rule(&mut self, raw: &RuleFile, scope: &RuleScope<'_>) -> Option<Rule> {
        let id = self.check(&raw.id, |id| RuleId::parse(id.as_str()).map_err(message));
        let category = self.check(&raw.category, |c| category(c));
        let trigger = self.trigger(&raw.trigger, scope.attributes);
        let when = self.condition(raw.when.as_ref());
        let exit = self.condition(raw.exit.as_ref());
        let kind = &raw.trigger.value;
        let has_event = kind.event.is_some() || kind.count.is_some();
        let template = self.template(&raw.template, category, has_event, scope);
        let gateway_template = match &raw.gateway_template {
            Some(gateway) => self.gateway_template(gateway, template.as_ref()).map(Some),
            None => Some(None),
        };
        let holdout_bp = match &raw.holdout {
            Some(h) => self.check(h, |h| holdout(h)),
            None => Some(0),
        };
        let goal = match &raw.goal {
            Some(goal) => self.goal(goal).map(Some),
            None => Some(None),
        };
        let max_segments = match &raw.max_segments {
            Some(m) => self.check(m, |m| segments(*m)).map(Some),
            None => Some(None),
        };
        let replies = self.reply_menu(&raw.replies, scope);
        Some(Rule {
            id: id?,
            category: category?,
            description: raw.description.clone(),
            trigger: trigger?,
            when: when?,
            exit: exit?,
            template: template?,
            gateway_template: gateway_template?,
            holdout_bp: holdout_bp?,
            goal: goal?,
            replies: replies?,
            max_segments: max_segments?,
        })
    }

    pub(super) fn condition(&mut self, raw: Option<&Spanned<String>>) -> Option<Option<Condition>> {
        match raw {
            Some(source) => self.check(source, |s| compile_condition(s)).map(Some),
            None => Some(None),
        }
    }

    fn trigger(
        &mut self,
        raw: &Spanned<TriggerFile>,
        attributes: &BTreeSet<String>,
    ) -> Option<Trigger> {
        let t = &raw.value;
        let kinds: Vec<(&str, &Spanned<String>)> = [
            ("event", &t.event),
            ("date", &t.date),
            ("anniversary", &t.anniversary),
            ("inactive", &t.inactive),
            ("every", &t.every),
            ("count", &t.count),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name, v)))
        .collect();
        let (kind, subject) = match kinds.as_slice() {
            [] => {
                self.report(
                    raw.referenced,
                    "trigger needs one of event, date, anniversary, inactive, every or count",
                );
                return None;
            }
            [one] => *one,
            [first, second, ..] => {
                self.report(
                    second.1.referenced,
                    format!(
                        "trigger has both `{}` and `{}`; a trigger has exactly one kind",
                        first.0, second.0
                    ),
                );
                return None;
            }
        };
        let allowed: &[&str] = match kind {
            "event" => &["delay", "where"],
            "date" | "anniversary" => &["offset", "at"],
            "inactive" => &["for", "at"],
            "every" => &["from", "at"],
            _ => &["times", "within", "delay"],
        };
        let mut ok = true;
        for (key, at) in modifiers(t) {
            if !allowed.contains(&key) {
                let takes = allowed.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>();
                self.report(
                    at,
                    format!(
                        "`{key}` does not apply to {} {kind} trigger (it takes {})",
                        if kind.starts_with(['a', 'e', 'i']) {
                            "an"
                        } else {
                            "a"
                        },
                        takes.join(", ")
                    ),
                );
                ok = false;
            }
        }
        let trigger = match kind {
            "event" => self.event_trigger(subject, t),
            "date" | "anniversary" => self.date_trigger(kind, subject, t, attributes),
            "inactive" => self.inactive_trigger(raw, subject, t),
            "every" => self.every_trigger(raw, subject, t, attributes),
            _ => self.count_trigger(raw, subject, t),
        };
        ok.then_some(trigger?)
    }

    fn event_trigger(&mut self, subject: &Spanned<String>, t: &TriggerFile) -> Option<Trigger> {
        let event_type = self.check(subject, |e| event_type(e));
        let delay = self.delay(t.delay.as_ref());
        let filter = self.condition(t.filter.as_ref());
        Some(Trigger::Event {
            event_type: event_type?,
            delay: delay?,
            filter: filter?,
        })
    }

    fn date_trigger(
        &mut self,
        kind: &str,
        subject: &Spanned<String>,
        t: &TriggerFile,
        attributes: &BTreeSet<String>,
    ) -> Option<Trigger> {
        let attribute = self.check(subject, |a| declared(a, attributes));
        let offset = match &t.offset {
            Some(o) => self.check(o, |o| span(o)),
            None => Some(Span::ZERO),
        };
        let at = self.at(t, t.offset.as_ref(), offset, "offset");
        let (attribute, offset, at) = (attribute?, offset?, at?);
        Some(if kind == "date" {
            Trigger::Date {
                attribute,
                offset,
                at,
            }
        } else {
            Trigger::Anniversary {
                attribute,
                offset,
                at,
            }
        })
    }

    fn inactive_trigger(
        &mut self,
        raw: &Spanned<TriggerFile>,
        subject: &Spanned<String>,
        t: &TriggerFile,
    ) -> Option<Trigger> {
        let event_type = self.check(subject, |e| event_type(e));
        let after = self.required_span(raw, t.after.as_ref(), "an inactive", "for", "30d");
        let at = self.at(t, t.after.as_ref(), after, "`for` span");
        Some(Trigger::Inactive {
            event_type: event_type?,
            after: after?,
            at: at?,
        })
    }

    fn every_trigger(
        &mut self,
        raw: &Spanned<TriggerFile>,
        subject: &Spanned<String>,
        t: &TriggerFile,
        attributes: &BTreeSet<String>,
    ) -> Option<Trigger> {
        let interval = self.check(subject, |i| positive_span(i));
        let attribute = match &t.from {
            Some(from) => self.check(from, |a| declared(a, attributes)),
            None => {
                self.report(
                    raw.referenced,
                    "an every trigger needs `from` (e.g. from: paid_at)",
                );
                None
            }
        };
        let at = self.at(t, Some(subject), interval, "interval");
        Some(Trigger::Every {
            attribute: attribute?,
            interval: interval?,
            at: at?,
        })
    }

    fn count_trigger(
        &mut self,
        raw: &Spanned<TriggerFile>,
        subject: &Spanned<String>,
        t: &TriggerFile,
    ) -> Option<Trigger> {
        let event_type = self.check(subject, |e| event_type(e));
        let times = match &t.times {
            Some(n) => self.check(n, |n| {
                if *n < 2 {
                    Err(
                        "a count trigger needs `times` of at least 2 (use an event trigger for 1)"
                            .to_string(),
                    )
                } else if *n as usize > crate::domain::RECENT_EVENTS_KEPT {
                    Err(format!(
                        "a count trigger counts at most {} events (times: {n})",
                        crate::domain::RECENT_EVENTS_KEPT
                    ))
                } else {
                    Ok(*n)
                }
            }),
            None => {
                self.report(
                    raw.referenced,
                    "a count trigger needs `times` (e.g. times: 3)",
                );
                None
            }
        };
        let within = self.required_span(raw, t.within.as_ref(), "a count", "within", "7d");
        let delay = self.delay(t.delay.as_ref());
        Some(Trigger::Count {
            event_type: event_type?,
            times: times?,
            within: within?,
            delay: delay?,
        })
    }

    fn delay(&mut self, raw: Option<&Spanned<String>>) -> Option<Span> {
        match raw {
            Some(d) => self.check(d, |d| {
                let delay = span(d)?;
                if delay.approx_seconds() < 0 {
                    return Err(format!("delay {d:?} must not be negative"));
                }
                Ok(delay)
            }),
            None => Some(Span::ZERO),
        }
    }

    fn required_span(
        &mut self,
        trigger: &Spanned<TriggerFile>,
        raw: Option<&Spanned<String>>,
        kind: &str,
        key: &str,
        example: &str,
    ) -> Option<Span> {
        match raw {
            Some(s) => self.check(s, |s| positive_span(s)),
            None => {
                self.report(
                    trigger.referenced,
                    format!("{kind} trigger needs `{key}` (e.g. {key}: {example})"),
                );
                None
            }
        }
    }

    /// `at` (a local time of day) only makes sense with a whole-day span to add to a date.
    fn at(
        &mut self,
        t: &TriggerFile,
        span_raw: Option<&Spanned<String>>,
        span: Option<Span>,
        what: &str,
    ) -> Option<Option<chrono::NaiveTime>> {
        let Some(raw_at) = &t.at else {
            return Some(None);
        };
        let at = self.check(raw_at, |a| time_of_day(a))?;
        if let (Some(span), Some(span_raw)) = (span, span_raw) {
            if !span.is_whole_days() {
                self.report(
                    span_raw.referenced,
                    format!(
                        "with `at`, the {what} must be whole days (e.g. 7d), not {:?}",
                        span_raw.value
                    ),
                );
                return None;
            }
        }
        Some(Some(at))
    }

    fn template(
        &mut self,
        raw: &Spanned<String>,
        category: Option<Category>,
        has_event: bool,
        scope: &RuleScope<'_>,
    ) -> Option<Template> {
        // A rule whose category is invalid (reported already) is linted as transactional.
        let sent_as = category.unwrap_or(Category::Transactional);
        let problems = scope.lint(&raw.value, sent_as);
        let clean = problems.is_empty();
        for problem in problems {
            self.report(raw.referenced, problem);
        }
        let template = self.check(raw, |s| compile_template(s))?;
        let mut ok = clean;
        for name in template.variables() {
            let known = scope.attributes.contains(&name)
                || BUILT_IN_VARIABLES.contains(&name.as_str())
                || (has_event && name == "event");
            if known {
                continue;
            }
            let why = if name == "debug" {
                // minijinja's `debug()` would print every variable, phone number included,
                // into the text; the render environment does not have it.
                "template uses `debug()`, which is not available in texts: it would show the \
                 customer's whole record"
                    .to_string()
            } else if name == "event" {
                "template uses `event`, which only event and count triggers have".to_string()
            } else {
                format!("template uses `{name}`, which is not in `attributes`")
            };
            self.report(raw.referenced, why);
            ok = false;
        }
        ok.then_some(template)
    }

    /// The approved template's id and its parameters, each a variable path the text uses,
    /// together exactly the text's variables: the gateway's text and nudge's say the same.
    fn gateway_template(
        &mut self,
        raw: &Spanned<GatewayTemplateFile>,
        text: Option<&Template>,
    ) -> Option<GatewayTemplate> {
        let id = self.check(&raw.value.id, |id| gateway_template_id(id));
        let mut params = Vec::new();
        let mut named = BTreeSet::new();
        let mut ok = true;
        for param in &raw.value.params {
            let compiled = self.check(param, |path| {
                let path = path.trim();
                let is_path = !path.is_empty() && path.split('.').all(is_identifier);
                if !is_path {
                    return Err(format!(
                        "param {path:?} is not a variable of the text (e.g. name, event.properties.order_id)"
                    ));
                }
                if !named.insert(path.to_string()) {
                    return Err(format!("param `{path}` is listed twice"));
                }
                compile_template(&format!("{{{{ {path} }}}}"))
            });
            match compiled {
                Some(template) => params.push(template),
                None => ok = false,
            }
        }
        // Only when the text compiled (its own problems are reported already).
        if let (Some(text), true) = (text, ok) {
            let used = text.paths();
            for path in used.difference(&named) {
                self.report(
                    raw.referenced,
                    format!(
                        "the text uses `{path}`, which is not one of the gateway template's params"
                    ),
                );
                ok = false;
            }
            for path in named.difference(&used) {
                self.report(
                    raw.referenced,
                    format!("param `{path}` is not used by the text, so the two would say different things"),
                );
                ok = false;
            }
        }
        let id = id?;
        ok.then_some(GatewayTemplate { id, params })
    }

    fn reply_menu(
        &mut self,
        raw: &BTreeMap<String, Spanned<ReplyFile>>,
        scope: &RuleScope<'_>,
    ) -> Option<BTreeMap<String, ReplyAction>> {
        let mut menu = BTreeMap::new();
        let mut ok = true;
        for (word, action) in raw {
            let at = action.referenced;
            let key = match keyword(word) {
                Ok(key) => key,
                Err(why) => {
                    self.report(at, why);
                    ok = false;
                    continue;
                }
            };
            let reserved =
                reply::words::built_in(&key).is_some() || scope.extra_reply_words.contains(&key);
            if reserved {
                self.report(
                    at,
                    format!("reply keyword {word:?} is an opt-out, opt-in or help word; the rule would never see it"),
                );
                ok = false;
            } else if menu.contains_key(&key) {
                self.report(
                    at,
                    format!("reply keyword {word:?} repeats another keyword once normalised"),
                );
                ok = false;
            }
            match self.reply_action(at, &action.value, scope) {
                Some(action) => {
                    menu.insert(key, action);
                }
                None => ok = false,
            }
        }
        ok.then_some(menu)
    }

    fn reply_action(
        &mut self,
        at: Location,
        raw: &ReplyFile,
        scope: &RuleScope<'_>,
    ) -> Option<ReplyAction> {
        let emit = match &raw.emit {
            Some(e) => self.check(e, |e| event_type(e)).map(Some),
            None => Some(None),
        };
        let answer = match &raw.answer {
            Some(a) => self
                .check(a, |a| {
                    if a.trim().is_empty() {
                        return Err("answer must not be empty".to_string());
                    }
                    let problems = scope.lint(a, Category::Transactional);
                    if problems.is_empty() {
                        Ok(a.clone())
                    } else {
                        Err(problems.join("; "))
                    }
                })
                .map(Some),
            None => Some(None),
        };
        let mut ok = true;
        for key in raw.set.keys() {
            if !is_identifier(key) {
                self.report(
                    at,
                    format!("`set` key {key:?} must be a name of letters, digits and _"),
                );
                ok = false;
            }
        }
        if raw.emit.is_none() && raw.answer.is_none() && raw.set.is_empty() {
            self.report(
                at,
                "reply action does nothing; give it `emit`, `answer` or `set`",
            );
            ok = false;
        }
        let (emit, answer) = (emit?, answer?);
        ok.then(|| ReplyAction {
            emit,
            answer,
            set: raw.set.clone(),
        })
    }
}

/// Modifier keys present in a trigger, with their positions.
fn modifiers(t: &TriggerFile) -> Vec<(&'static str, Location)> {
    let spans = [
        ("delay", &t.delay),
        ("where", &t.filter),
        ("offset", &t.offset),
        ("at", &t.at),
        ("for", &t.after),
        ("from", &t.from),
        ("within", &t.within),
    ];
    let mut found: Vec<(&'static str, Location)> = spans
        .into_iter()
        .filter_map(|(key, value)| value.as_ref().map(|v| (key, v.referenced)))
        .collect();
    if let Some(times) = &t.times {
        found.push(("times", times.referenced));
    }
    found
}

/// A gateway template id: 1–64 ASCII letters, digits, `-` or `_` (Tencent's are digits,
/// Alibaba's `SMS_…`).
fn gateway_template_id(text: &str) -> Result<String, String> {
    let text = text.trim();
    let allowed = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if text.is_empty() || text.len() > 64 || !allowed {
        return Err(format!(
            "gateway template id {text:?} must be 1–64 ASCII letters, digits, '-' or '_'"
        ));
    }
    Ok(text.to_string())
}

fn category(text: &str) -> Result<Category, String> {
    Category::ALL
        .into_iter()
        .find(|c| c.as_str() == text)
        .ok_or_else(|| format!("unknown category {text:?}; use transactional, care or marketing"))
}

fn declared(attribute: &str, attributes: &BTreeSet<String>) -> Result<String, String> {
    if attributes.contains(attribute) {
        Ok(attribute.to_string())
    } else {
        Err(format!(
            "attribute `{attribute}` is not declared in `attributes`"
        ))
    }
}

/// Event types are dotted names such as `order.paid`.
pub(super) fn event_type(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= 128
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | ':'));
    if valid {
        Ok(text.to_string())
    } else {
        Err(format!(
            "event type {text:?} must be letters, digits and . _ - : (e.g. order.paid)"
        ))
    }
}

/// `10%` or `2.5%` → basis points (1000, 250); at most two decimals, 0% to 50%.
fn holdout(text: &str) -> Result<u32, String> {
    let bad = || format!("holdout {text:?} must be a percentage from 0% to 50%, e.g. 10% or 2.5%");
    let number = text.trim().strip_suffix('%').ok_or_else(bad)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty()
        || whole.len() > 3
        || fraction.len() > 2
        || !digits(whole)
        || !digits(fraction)
    {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let fraction: u32 = format!("{fraction:0<2}").parse().map_err(|_| bad())?;
    let bp = whole * 100 + fraction;
    if bp > MAX_HOLDOUT_BP {
        return Err(bad());
    }
    Ok(bp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_percentages_become_basis_points() {
        assert_eq!(holdout("10%").unwrap(), 1_000);
        assert_eq!(holdout("2.5%").unwrap(), 250);
        assert_eq!(holdout("0%").unwrap(), 0);
        assert_eq!(holdout("50%").unwrap(), 5_000);
        for bad in ["51%", "10", "%", "1.234%", "-5%", "ten%", "50.01%"] {
            assert!(holdout(bad).is_err(), "{bad}");
        }
    }

    const BRAND: &str = "阿克米";
    const FOOTER: &str = "回复TD退订";

    fn with_scope<T>(check: impl FnOnce(&RuleScope<'_>) -> T) -> T {
        let attributes = BTreeSet::new();
        let banned = vec!["最后机会".to_string(), "清仓".to_string()];
        check(&RuleScope {
            attributes: &attributes,
            brand: BRAND,
            banned: &banned,
            footer: FOOTER,
            extra_reply_words: BTreeSet::new(),
        })
    }

    #[test]
    fn double_question_marks_of_either_width_are_caught() {
        with_scope(|scope| {
            for text in ["真的？？", "真的??", "真的?？", "真的？?"] {
                let problems = scope.lint(text, Category::Care);
                assert!(
                    problems.iter().any(|p| p.contains("double question mark")),
                    "{text}: {problems:?}"
                );
            }
            assert!(scope.lint("好吗？好吗？", Category::Care).is_empty());
        });
    }

    proptest::proptest! {
        /// A static text (no variables) that the send-time lint would skip fails the check,
        /// with the same problem.
        #[test]
        fn every_send_time_problem_is_a_check_time_problem(
            chars in proptest::collection::vec(proptest::sample::select(vec![
                'a', '好', ' ', '?', '？', '!', '！', '清', '仓', '最', '后', '机', '会', '【',
                '】', '阿', '克', '米', '回', '复', 'T', 'D', '退', '订',
            ]), 0..16),
            category in proptest::sample::select(Category::ALL.to_vec()),
        ) {
            let text: String = chars.into_iter().collect();
            with_scope(|scope| {
                let composed = content::compose(BRAND, &text, FOOTER, category);
                let at_send = content::lint(&composed, BRAND, FOOTER, category, scope.banned);
                let at_check = scope.lint(&text, category);
                for problem in &at_send {
                    proptest::prop_assert!(
                        at_check.contains(&explain(problem)),
                        "{text:?} ({category:?}): {problem} not in {at_check:?}"
                    );
                }
                Ok(())
            })?;
        }
    }

    #[test]
    fn event_types_are_dotted_names() {
        assert!(event_type("order.paid").is_ok());
        assert!(event_type("order paid").is_err());
        assert!(event_type("").is_err());
    }
}
