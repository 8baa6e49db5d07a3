//! SMS segment counting (GSM 03.38 / 3GPP TS 23.038).
//!
//! Multipart messages are packed greedily: a two-septet GSM extension character or a UTF-16
//! surrogate pair is never split across parts, as carriers do, so a part may hold one unit less.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// 7-bit default alphabet: 160 septets single, 153 per part.
    Gsm7,
    /// UTF-16: 70 code units single, 67 per part.
    Ucs2,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: u32,
    /// Number of SMS parts; 0 for an empty text.
    pub segments: u32,
}

pub fn count_segments(text: &str) -> Segments {
    let mut septets = 0u32;
    for c in text.chars() {
        match gsm_septets(c) {
            Some(n) => septets = septets.saturating_add(u32::from(n)),
            None => return ucs2(text),
        }
    }
    let segments = pack(septets, 160, 153, || {
        text.chars().filter_map(gsm_septets).map(u32::from)
    });
    Segments {
        encoding: Encoding::Gsm7,
        units: septets,
        segments,
    }
}

fn ucs2(text: &str) -> Segments {
    let units = text
        .chars()
        .map(|c| c.len_utf16() as u32)
        .fold(0u32, u32::saturating_add);
    let segments = pack(units, 70, 67, || text.chars().map(|c| c.len_utf16() as u32));
    Segments {
        encoding: Encoding::Ucs2,
        units,
        segments,
    }
}

/// Parts needed for characters of the given unit widths.
fn pack<I: Iterator<Item = u32>>(
    total: u32,
    single: u32,
    per_part: u32,
    widths: impl Fn() -> I,
) -> u32 {
    if total == 0 {
        return 0;
    }
    if total <= single {
        return 1;
    }
    let (mut parts, mut used) = (1u32, 0u32);
    for width in widths() {
        if used + width > per_part {
            parts += 1;
            used = 0;
        }
        used += width;
    }
    parts
}

/// Septets a character takes in the GSM 7-bit default alphabet: 1 in the basic table, 2 in the
/// extension table (escape + code), `None` when it is not representable.
fn gsm_septets(c: char) -> Option<u8> {
    match c {
        // Every printable ASCII character is in the basic table except these.
        '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' => Some(2),
        '`' => None,
        ' '..='~' | '\n' | '\r' => Some(1),
        '\u{0C}' | '€' => Some(2),
        '£' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | 'Ø' | 'ø' | 'Å' | 'å' => {
            Some(1)
        }
        'Δ' | 'Φ' | 'Γ' | 'Λ' | 'Ω' | 'Π' | 'Ψ' | 'Σ' | 'Θ' | 'Ξ' => Some(1),
        'Æ' | 'æ' | 'ß' | 'É' | '¤' | '¡' | 'Ä' | 'Ö' | 'Ñ' | 'Ü' | '§' => Some(1),
        '¿' | 'ä' | 'ö' | 'ñ' | 'ü' | 'à' => Some(1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Encoding::{Gsm7, Ucs2};

    #[test]
    fn segment_table() {
        let emoji_straddling = format!("{}😀{}", "a".repeat(66), "a".repeat(66));
        let cases: Vec<(String, Encoding, u32, u32)> = vec![
            (String::new(), Gsm7, 0, 0),
            ("a".repeat(160), Gsm7, 160, 1),
            ("a".repeat(161), Gsm7, 161, 2),
            ("a".repeat(306), Gsm7, 306, 2),
            ("a".repeat(307), Gsm7, 307, 3),
            (
                "@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà\n\r".into(),
                Gsm7,
                64,
                1,
            ),
            ("€".repeat(80), Gsm7, 160, 1),
            ("a^".into(), Gsm7, 3, 1),
            ("{}[]~|\\\u{0C}".into(), Gsm7, 16, 1),
            ("a".repeat(159) + "€", Gsm7, 161, 2),
            // An escape pair is not split: 152 septets + '{' → the pair opens part two.
            ("a".repeat(152) + "{" + &"a".repeat(152), Gsm7, 306, 3),
            ("ç".into(), Ucs2, 1, 1),
            ("`".into(), Ucs2, 1, 1),
            ("中".repeat(70), Ucs2, 70, 1),
            ("中".repeat(71), Ucs2, 71, 2),
            ("中".repeat(134), Ucs2, 134, 2),
            ("中".repeat(135), Ucs2, 135, 3),
            ("😀".into(), Ucs2, 2, 1),
            ("😀".repeat(35), Ucs2, 70, 1),
            ("😀".repeat(36), Ucs2, 72, 2),
            // A surrogate pair is not split across parts.
            (emoji_straddling, Ucs2, 134, 3),
            ("【阿克米】Hi".into(), Ucs2, 7, 1),
        ];
        for (text, encoding, units, segments) in cases {
            assert_eq!(
                count_segments(&text),
                Segments {
                    encoding,
                    units,
                    segments
                },
                "{text:?}"
            );
        }
    }
}
