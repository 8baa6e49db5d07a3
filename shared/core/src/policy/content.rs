//! Composing texts (brand signature, opt-out footer) and linting them before sending.
use std::fmt;

use crate::domain::Category;

/// `【brand】` + body, plus the opt-out footer for care and marketing. A body that already
/// starts with the signature or already contains the footer does not get it twice. Between two
/// ASCII non-space characters at the footer junction a space is inserted ("…now. Reply STOP");
/// CJK text is joined directly.
pub(crate) fn compose(brand: &str, body: &str, footer: &str, category: Category) -> String {
    let signed = has_brand(body, brand);
    let wants_footer = needs_footer(category, footer) && !body.contains(footer);
    let mut text = String::with_capacity(brand.len() + body.len() + footer.len() + 8);
    if !signed {
        text.push('【');
        text.push_str(brand);
        text.push('】');
    }
    text.push_str(body);
    if wants_footer {
        let joins_words = matches!(
            (body.chars().next_back(), footer.chars().next()),
            (Some(a), Some(b)) if a.is_ascii_graphic() && b.is_ascii_graphic()
        );
        if joins_words {
            text.push(' ');
        }
        text.push_str(footer);
    }
    text
}

/// Something wrong with a text that must not be sent as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentProblem {
    MissingBrand,
    MissingFooter,
    BannedPhrase(String),
    /// Full-width "！" reads as shouting in Chinese retail SMS guidance.
    FullwidthExclamation,
    /// "？？" (or "??", or mixed widths).
    DoubleQuestion,
    /// A control character other than a line break (a NUL, an escape, a carriage return…),
    /// whether written in the rulebook or filled in from a customer's data: handsets and
    /// gateways show or drop them unpredictably.
    ControlCharacter,
}

impl ContentProblem {
    /// Stable code for stats (`skipped_content_<code>`) and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ContentProblem::MissingBrand => "missing_brand",
            ContentProblem::MissingFooter => "missing_footer",
            ContentProblem::BannedPhrase(_) => "banned_phrase",
            ContentProblem::FullwidthExclamation => "fullwidth_exclamation",
            ContentProblem::DoubleQuestion => "double_question",
            ContentProblem::ControlCharacter => "control_character",
        }
    }
}

impl fmt::Display for ContentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentProblem::MissingBrand => f.write_str("text does not start with 【brand】"),
            ContentProblem::MissingFooter => {
                f.write_str("care/marketing text lacks the opt-out footer")
            }
            ContentProblem::BannedPhrase(p) => write!(f, "text contains banned phrase {p:?}"),
            ContentProblem::FullwidthExclamation => f.write_str("text contains full-width \"！\""),
            ContentProblem::DoubleQuestion => f.write_str("text contains a double question mark"),
            ContentProblem::ControlCharacter => {
                f.write_str("text contains a control character (only line breaks are allowed)")
            }
        }
    }
}

/// Every problem of a composed text, in a fixed order. Banned phrases match exactly
/// (case-sensitive substrings); an empty phrase matches nothing.
pub(crate) fn lint(
    text: &str,
    brand: &str,
    footer: &str,
    category: Category,
    banned: &[String],
) -> Vec<ContentProblem> {
    let mut problems = Vec::new();
    scan(text, brand, footer, category, banned, &mut |p| {
        problems.push(p);
        true
    });
    problems
}

/// The first problem [`lint`] would report, without collecting the rest.
pub(crate) fn first_problem(
    text: &str,
    brand: &str,
    footer: &str,
    category: Category,
    banned: &[String],
) -> Option<ContentProblem> {
    let mut first = None;
    scan(text, brand, footer, category, banned, &mut |p| {
        first = Some(p);
        false
    });
    first
}

/// Feeds problems to `found` until it returns false.
fn scan(
    text: &str,
    brand: &str,
    footer: &str,
    category: Category,
    banned: &[String],
    found: &mut dyn FnMut(ContentProblem) -> bool,
) {
    if !has_brand(text, brand) && !found(ContentProblem::MissingBrand) {
        return;
    }
    if needs_footer(category, footer)
        && !text.contains(footer)
        && !found(ContentProblem::MissingFooter)
    {
        return;
    }
    for phrase in banned {
        if !phrase.is_empty()
            && text.contains(phrase.as_str())
            && !found(ContentProblem::BannedPhrase(phrase.clone()))
        {
            return;
        }
    }
    if text.contains('！') && !found(ContentProblem::FullwidthExclamation) {
        return;
    }
    if has_double_question(text) && !found(ContentProblem::DoubleQuestion) {
        return;
    }
    if has_control_character(text) {
        found(ContentProblem::ControlCharacter);
    }
}

/// Whether `text` has a control character other than a line break.
pub(crate) fn has_control_character(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && c != '\n')
}

fn has_brand(text: &str, brand: &str) -> bool {
    text.strip_prefix('【')
        .and_then(|rest| rest.strip_prefix(brand))
        .is_some_and(|rest| rest.starts_with('】'))
}

fn needs_footer(category: Category, footer: &str) -> bool {
    category != Category::Transactional && !footer.is_empty()
}

fn has_double_question(text: &str) -> bool {
    let is_question = |c: char| c == '?' || c == '？';
    let mut previous = false;
    for c in text.chars() {
        let current = is_question(c);
        if previous && current {
            return true;
        }
        previous = current;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::{Care, Marketing, Transactional};

    const FOOTER: &str = "回复TD退订";

    #[test]
    fn compose_table() {
        let cases = [
            (
                "阿克米",
                "您好，试用已满7天。",
                FOOTER,
                Care,
                "【阿克米】您好，试用已满7天。回复TD退订",
            ),
            (
                "阿克米",
                "新品上市。",
                FOOTER,
                Marketing,
                "【阿克米】新品上市。回复TD退订",
            ),
            (
                "阿克米",
                "订单已发货。",
                FOOTER,
                Transactional,
                "【阿克米】订单已发货。",
            ),
            (
                "阿克米",
                "新品上市，回复TD退订",
                FOOTER,
                Marketing,
                "【阿克米】新品上市，回复TD退订",
            ),
            (
                "阿克米",
                "【阿克米】新品上市。",
                FOOTER,
                Care,
                "【阿克米】新品上市。回复TD退订",
            ),
            (
                "Acme",
                "New arrivals.",
                "Reply STOP to opt out",
                Care,
                "【Acme】New arrivals. Reply STOP to opt out",
            ),
            (
                "Acme",
                "New arrivals. ",
                "Reply STOP to opt out",
                Care,
                "【Acme】New arrivals. Reply STOP to opt out",
            ),
            ("Acme", "Hi", "", Marketing, "【Acme】Hi"),
        ];
        for (brand, body, footer, category, want) in cases {
            assert_eq!(compose(brand, body, footer, category), want, "{body}");
        }
    }

    #[test]
    fn lint_table() {
        let banned = vec!["最后机会".to_string(), "清仓".to_string()];
        let cases: &[(&str, Category, &[&str])] = &[
            ("【阿克米】新品上市。回复TD退订", Marketing, &[]),
            ("【阿克米】订单已发货。", Transactional, &[]),
            ("新品上市。回复TD退订", Marketing, &["missing_brand"]),
            (
                "【阿克】新品上市。回复TD退订",
                Marketing,
                &["missing_brand"],
            ),
            ("【阿克米】新品上市。", Care, &["missing_footer"]),
            (
                "【阿克米】最后机会，清仓！回复TD退订",
                Marketing,
                &["banned_phrase", "banned_phrase", "fullwidth_exclamation"],
            ),
            (
                "【阿克米】还在犹豫？？回复TD退订",
                Care,
                &["double_question"],
            ),
            ("【阿克米】really??回复TD退订", Care, &["double_question"]),
            ("【阿克米】好吗？好吗？回复TD退订", Care, &[]),
            // A customer's name filled in with a NUL or an escape; a line break is fine.
            (
                "【阿克米】王\u{0}芳您好。",
                Transactional,
                &["control_character"],
            ),
            (
                "【阿克米】\u{1b}[31m您好。",
                Transactional,
                &["control_character"],
            ),
            (
                "【阿克米】您好，\r\n订单已发货。",
                Transactional,
                &["control_character"],
            ),
            ("【阿克米】您好，\n订单已发货。", Transactional, &[]),
            (
                "今天清仓！？？",
                Care,
                &[
                    "missing_brand",
                    "missing_footer",
                    "banned_phrase",
                    "fullwidth_exclamation",
                    "double_question",
                ],
            ),
        ];
        for (text, category, want) in cases {
            let got = lint(text, "阿克米", FOOTER, *category, &banned);
            let codes: Vec<&str> = got.iter().map(ContentProblem::code).collect();
            assert_eq!(&codes, want, "{text}");
            assert_eq!(
                first_problem(text, "阿克米", FOOTER, *category, &banned),
                got.first().cloned()
            );
        }
    }

    #[test]
    fn banned_phrase_is_named() {
        let banned = vec!["清仓".to_string()];
        let problems = lint(
            "【阿克米】清仓回复TD退订",
            "阿克米",
            FOOTER,
            Marketing,
            &banned,
        );
        assert_eq!(problems, vec![ContentProblem::BannedPhrase("清仓".into())]);
        assert_eq!(
            problems[0].to_string(),
            "text contains banned phrase \"清仓\""
        );
    }
}
