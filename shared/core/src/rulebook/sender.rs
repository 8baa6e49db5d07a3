//! The rulebook's `sender:` section: the tenant's origination identity.
use serde_saphyr::Spanned;

use super::check::Checker;
use super::file::SenderFile;
use super::parse::e164;
use crate::domain::Origination;

/// Longest pool id or ARN accepted (EUM's own limit on a pool ARN).
const MAX_POOL_CHARS: usize = 256;

impl Checker<'_> {
    /// Exactly one of `number`, `pool` and `sender_id`.
    pub(super) fn sender(&mut self, raw: &Spanned<SenderFile>) -> Option<Origination> {
        let file = &raw.value;
        let given = [
            file.number.is_some(),
            file.pool.is_some(),
            file.sender_id.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            self.report(
                raw.referenced,
                "`sender` names exactly one of `number` (E.164), `pool` or `sender_id`",
            );
            return None;
        }
        if let Some(number) = &file.number {
            return self.check(number, |n| e164(n)).map(Origination::Number);
        }
        if let Some(pool) = &file.pool {
            return self.check(pool, |p| pool_id(p)).map(Origination::Pool);
        }
        let id = file.sender_id.as_ref()?;
        self.check(id, |id| sender_id(id))
            .map(Origination::SenderId)
    }
}

/// A pool id (`pool-…`) or ARN: printable ASCII without spaces.
fn pool_id(text: &str) -> Result<String, String> {
    let text = text.trim();
    let printable = text.chars().all(|c| c.is_ascii_graphic());
    if text.is_empty() || text.len() > MAX_POOL_CHARS || !printable {
        return Err(format!(
            "pool {text:?} is not a pool id or ARN (1–{MAX_POOL_CHARS} printable ASCII characters, no spaces)"
        ));
    }
    Ok(text.to_string())
}

/// An alphanumeric sender id as carriers accept them: 1–11 ASCII letters, digits or `-`,
/// with at least one letter.
fn sender_id(text: &str) -> Result<String, String> {
    let text = text.trim();
    let allowed = text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    let has_letter = text.chars().any(|c| c.is_ascii_alphabetic());
    if text.is_empty() || text.len() > 11 || !allowed || !has_letter {
        return Err(format!(
            "sender_id {text:?} must be 1–11 ASCII letters, digits or '-', with at least one letter"
        ));
    }
    Ok(text.to_string())
}
