//! Reply classification against the built-in words, tenant extras and a keyword menu.
use super::words::{self, Intent};
use super::{normalize, ReplySettings};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    OptOut,
    OptIn,
    Help,
    /// A menu keyword, as it was given to [`Classifier::new`] (so it finds the menu entry).
    Keyword(String),
    FreeText,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    pub kind: ReplyKind,
    /// The reply after [`normalize`].
    pub normalized: String,
}

/// A classifier for one tenant (extra words) and one reply context (menu keywords). Built once;
/// classifying allocates only the normalised text (and the keyword on a keyword match).
#[derive(Clone, Debug, Default)]
pub struct Classifier {
    /// Sorted, normalised.
    extra_opt_out: Vec<String>,
    extra_opt_in: Vec<String>,
    extra_help: Vec<String>,
    /// (normalised, as given), sorted by the normalised form.
    keywords: Vec<(String, String)>,
}

impl Classifier {
    pub fn new(
        settings: Option<&ReplySettings>,
        keywords: impl IntoIterator<Item = String>,
    ) -> Self {
        let words = |pick: fn(&ReplySettings) -> &Vec<String>| {
            sorted(settings.map(pick).into_iter().flatten())
        };
        let mut keywords: Vec<(String, String)> = keywords
            .into_iter()
            .map(|k| (normalize(&k), k))
            .filter(|(n, _)| !n.is_empty())
            .collect();
        keywords.sort();
        keywords.dedup_by(|a, b| a.0 == b.0);
        Classifier {
            extra_opt_out: words(|s| &s.extra_opt_out),
            extra_opt_in: words(|s| &s.extra_opt_in),
            extra_help: words(|s| &s.extra_help),
            keywords,
        }
    }

    /// Precedence: opt-out (built-in, contained 退订/拒收, tenant) → opt-in → help → menu
    /// keyword → free text. Opt-out comes first because failing to honour one is the costly
    /// mistake; a menu keyword that collides with a reserved word is shadowed.
    pub fn classify(&self, text: &str) -> Classification {
        let normalized = normalize(text);
        let kind = self.kind_of(&normalized);
        Classification { kind, normalized }
    }

    fn kind_of(&self, word: &str) -> ReplyKind {
        if word.is_empty() {
            return ReplyKind::FreeText;
        }
        let builtin = words::built_in(word);
        if builtin == Some(Intent::OptOut)
            || words::OPT_OUT_ANYWHERE.iter().any(|w| word.contains(w))
            || contains(&self.extra_opt_out, word)
        {
            return ReplyKind::OptOut;
        }
        if builtin == Some(Intent::OptIn) || contains(&self.extra_opt_in, word) {
            return ReplyKind::OptIn;
        }
        if builtin == Some(Intent::Help) || contains(&self.extra_help, word) {
            return ReplyKind::Help;
        }
        match self
            .keywords
            .binary_search_by(|(n, _)| n.as_str().cmp(word))
        {
            Ok(i) => ReplyKind::Keyword(self.keywords[i].1.clone()),
            Err(_) => ReplyKind::FreeText,
        }
    }
}

/// Classifies with the built-in vocabularies only.
pub fn classify(text: &str) -> Classification {
    Classifier::default().classify(text)
}

fn sorted<'a>(words: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = words
        .map(|w| normalize(w))
        .filter(|w| !w.is_empty())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn contains(sorted: &[String], word: &str) -> bool {
    sorted.binary_search_by(|w| w.as_str().cmp(word)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Span;

    fn settings() -> ReplySettings {
        ReplySettings {
            extra_opt_out: vec!["不要再发".into(), "baja".into()],
            extra_opt_in: vec!["重新订阅".into()],
            extra_help: vec!["客服".into()],
            opt_out_confirmation: String::new(),
            opt_in_confirmation: String::new(),
            help_text: String::new(),
            keyword_context: Span::from_seconds(72 * 3600),
            opt_outs_managed_by: crate::reply::OptOutManager::Nudge,
        }
    }

    #[test]
    fn builtin_table() {
        use ReplyKind::{FreeText, Help, OptIn, OptOut};
        let cases = [
            ("TD", OptOut),
            ("ＴＤ", OptOut),
            ("td ", OptOut),
            ("t", OptOut),
            ("N", OptOut),
            ("r.", OptOut),
            ("退订", OptOut),
            ("退订。", OptOut),
            ("退 订", OptOut),
            ("取消", OptOut),
            ("拒收！", OptOut),
            ("Stop!", OptOut),
            ("STOPALL", OptOut),
            ("stop 🙏", OptOut),
            ("Unsubscribe", OptOut),
            ("cancel", OptOut),
            ("end", OptOut),
            ("quit", OptOut),
            ("revoke", OptOut),
            ("optout", OptOut),
            ("Opt out", OptOut),
            ("opt-out", OptOut),
            ("arret", OptOut),
            ("remove", OptOut),
            ("请帮我退订", OptOut),
            ("以后拒收这类短信", OptOut),
            ("start", OptIn),
            ("Unstop", OptIn),
            ("订阅", OptIn),
            ("help", Help),
            ("HELP?", Help),
            ("¿help?", Help),
            ("Info.", Help),
            ("帮助？", Help),
            ("stop sending me the wrong size", FreeText),
            ("please stop", FreeText),
            ("取消订单", FreeText),
            ("谢谢", FreeText),
            ("👍", FreeText),
            ("", FreeText),
            ("1", FreeText),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text).kind, want, "{text:?}");
        }
        assert_eq!(classify("Stop!").normalized, "STOP");
    }

    #[test]
    fn tenant_words_and_menu_keywords() {
        let classifier = Classifier::new(
            Some(&settings()),
            ["1".to_string(), "y".to_string(), "N".to_string()],
        );
        let cases = [
            ("不要再发", ReplyKind::OptOut),
            ("BAJA", ReplyKind::OptOut),
            ("Baja!", ReplyKind::OptOut),
            ("重新订阅", ReplyKind::OptIn),
            ("客服？", ReplyKind::Help),
            ("1", ReplyKind::Keyword("1".into())),
            ("１", ReplyKind::Keyword("1".into())),
            (" 1。", ReplyKind::Keyword("1".into())),
            ("Y", ReplyKind::Keyword("y".into())),
            ("y", ReplyKind::Keyword("y".into())),
            // A menu keyword colliding with an opt-out word is shadowed by it.
            ("n", ReplyKind::OptOut),
            ("2", ReplyKind::FreeText),
            ("TD", ReplyKind::OptOut),
        ];
        for (text, want) in cases {
            assert_eq!(classifier.classify(text).kind, want, "{text:?}");
        }
        // Without settings, tenant words are free text.
        assert_eq!(
            Classifier::new(None, Vec::new()).classify("baja").kind,
            ReplyKind::FreeText
        );
    }

    /// The words a menu keyword may not be (the rulebook check asks `built_in` of the
    /// normalised keyword): every spelling of a built-in word.
    #[test]
    fn reserved_words() {
        let is_reserved = |word: &str| words::built_in(&normalize(word)).is_some();
        assert!(is_reserved("n"));
        assert!(is_reserved("Ｓｔｏｐ"));
        assert!(is_reserved("help"));
        assert!(!is_reserved("1"));
        assert!(!is_reserved("Y"));
    }
}
