//! Reply normalisation: the canonical form replies are matched in.
use unicode_normalization::UnicodeNormalization;

/// NFKC (full-width → half-width), control and invisible format characters removed, inner
/// whitespace collapsed to one space (removed entirely between two CJK characters: "退 订" →
/// "退订"), surrounding punctuation, symbols and emoji stripped ("Stop!" → "STOP", "td 👍" → "TD"),
/// uppercased. Inner punctuation stays ("OPT-OUT").
pub(crate) fn normalize(text: &str) -> String {
    // ASCII is already NFKC; skipping the normaliser keeps the common case cheap.
    if text.is_ascii() {
        build(text.chars(), text.len())
    } else {
        build(text.nfkc(), text.len())
    }
}

fn build(chars: impl Iterator<Item = char>, capacity: usize) -> String {
    let mut out = String::with_capacity(capacity);
    let mut last: Option<char> = None;
    let mut pending_space = false;
    for c in chars {
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if c.is_control() || is_invisible(c) {
            continue;
        }
        if pending_space {
            if let Some(previous) = last {
                if !(is_cjk(previous) && is_cjk(c)) {
                    out.push(' ');
                }
            }
            pending_space = false;
        }
        out.extend(c.to_uppercase());
        last = Some(c);
    }
    trim_non_alphanumeric(out)
}

/// Drops leading and trailing characters that are neither letters nor digits, in place.
fn trim_non_alphanumeric(mut text: String) -> String {
    let end = text.trim_end_matches(|c: char| !c.is_alphanumeric()).len();
    text.truncate(end);
    let start = text.len()
        - text
            .trim_start_matches(|c: char| !c.is_alphanumeric())
            .len();
    text.drain(..start);
    text
}

/// Zero-width and direction characters that phones insert invisibly.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Characters of scripts written without spaces between words: CJK ideographs and kana (not
/// Hangul, which uses spaces).
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30FF}'     // hiragana, katakana
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{20000}'..='\u{3134F}' // CJK extensions B–G
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_table() {
        let cases = [
            ("ＴＤ", "TD"),
            ("td ", "TD"),
            ("  Stop!  ", "STOP"),
            ("退订。", "退订"),
            ("退 订", "退订"),
            ("退\u{3000}订！", "退订"),
            ("td 👍", "TD"),
            ("stop 🙏", "STOP"),
            ("👍🏻", ""),
            ("Opt   out", "OPT OUT"),
            ("opt-out", "OPT-OUT"),
            ("１", "1"),
            ("y", "Y"),
            ("T\u{200B}D", "TD"),
            ("\u{FEFF}help?", "HELP"),
            ("「帮助」", "帮助"),
            ("stop\r\nsending", "STOP SENDING"),
            ("请帮我 退订 谢谢", "请帮我退订谢谢"),
            ("TD 退订", "TD 退订"),
            ("straße", "STRASSE"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input), want, "{input:?}");
        }
    }

    #[test]
    fn idempotent() {
        for input in [
            "ＴＤ",
            "退 订。",
            "Opt   out!",
            "stop 🙏 please",
            "Ｈｅｌｐ？",
        ] {
            let once = normalize(input);
            assert_eq!(normalize(&once), once, "{input:?}");
        }
    }
}
