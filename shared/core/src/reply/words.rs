//! The reply words every tenant has, in their normalised form: what opts a number out, back in,
//! or asks for help. The classifier answers them and the rulebook check keeps menu keywords
//! from shadowing them; tenants add their own words in the rulebook.

/// Chinese carrier codes (TD, T, N, R, 退订, 取消, 拒收) and the common English ones.
pub(crate) const OPT_OUT_WORDS: [&str; 19] = [
    "TD",
    "T",
    "N",
    "R",
    "退订",
    "取消",
    "拒收",
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "OPT-OUT",
    "OPT OUT",
    "ARRET",
    "REMOVE",
];

pub(crate) const OPT_IN_WORDS: [&str; 3] = ["START", "UNSTOP", "订阅"];

pub(crate) const HELP_WORDS: [&str; 3] = ["HELP", "INFO", "帮助"];

/// Opt-out words honoured anywhere in a reply, not only as the whole reply: Chinese carriers
/// treat a reply containing 退订/拒收 ("请帮我退订") as an unsubscribe. 取消 is deliberately not
/// here: "取消订单" (cancel my order) is a common, unrelated request.
pub(crate) const OPT_OUT_ANYWHERE: [&str; 2] = ["退订", "拒收"];

/// What a built-in word asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    OptOut,
    OptIn,
    Help,
}

/// The intent of a whole normalised reply that is a built-in word.
pub(crate) fn built_in(normalized: &str) -> Option<Intent> {
    if OPT_OUT_WORDS.contains(&normalized) {
        Some(Intent::OptOut)
    } else if OPT_IN_WORDS.contains(&normalized) {
        Some(Intent::OptIn)
    } else if HELP_WORDS.contains(&normalized) {
        Some(Intent::Help)
    } else {
        None
    }
}

/// Every built-in word with its intent.
pub fn all() -> impl Iterator<Item = (&'static str, Intent)> {
    let words = |list: &'static [&'static str], intent| list.iter().map(move |w| (*w, intent));
    words(&OPT_OUT_WORDS, Intent::OptOut)
        .chain(words(&OPT_IN_WORDS, Intent::OptIn))
        .chain(words(&HELP_WORDS, Intent::Help))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::normalize;
    use std::collections::BTreeSet;

    #[test]
    fn words_are_written_normalised_and_once() {
        let mut seen = BTreeSet::new();
        for (word, intent) in all() {
            assert_eq!(normalize(word), word, "{word} is not in normalised form");
            assert!(seen.insert(word), "{word} is listed twice");
            assert_eq!(built_in(word), Some(intent), "{word}");
        }
        for word in OPT_OUT_ANYWHERE {
            assert_eq!(built_in(word), Some(Intent::OptOut), "{word}");
        }
    }
}
