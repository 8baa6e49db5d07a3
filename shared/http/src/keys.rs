//! API keys: `nk_<id>_<secret>` where `id` is 12 lowercase alphanumerics (public, the lookup
//! key) and `secret` 40 base62 characters from the OS random source. Only the SHA-256 of the
//! secret is stored; it is compared in constant time.
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use nudge_core::domain::{ApiKey, Scope, TenantId};
use nudge_core::error::{Error, Result};

const PREFIX: &str = "nk_";
pub const ID_LEN: usize = 12;
pub const SECRET_LEN: usize = 40;
const MIN_SECRET_LEN: usize = 32;
const ID_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Creates a key. Returns the full key (to show once) and what is stored.
pub fn generate_key(
    tenant: TenantId,
    scopes: Vec<Scope>,
    regions: Vec<String>,
    label: Option<String>,
    now: DateTime<Utc>,
) -> Result<(String, ApiKey)> {
    let id = random_string(ID_ALPHABET, ID_LEN)?;
    let secret = random_string(SECRET_ALPHABET, SECRET_LEN)?;
    let key = ApiKey {
        id: id.clone(),
        secret_sha256: hash_secret(&secret),
        tenant,
        scopes,
        regions,
        label,
        created_at: now,
        revoked_at: None,
    };
    Ok((format!("{PREFIX}{id}_{secret}"), key))
}

/// Splits a presented key into its id and secret; None when it is not shaped like a key.
pub fn parse_key(presented: &str) -> Option<(&str, &str)> {
    let rest = presented.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_at_checked(ID_LEN)?;
    let secret = secret.strip_prefix('_')?;
    let id_ok = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let secret_ok = secret.len() >= MIN_SECRET_LEN
        && secret.len() <= 128
        && secret.bytes().all(|b| b.is_ascii_alphanumeric());
    (id_ok && secret_ok).then_some((id, secret))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `secret` hashes to the stored hash, compared in constant time.
pub fn secret_matches(stored: &ApiKey, secret: &str) -> bool {
    hash_secret(secret)
        .as_bytes()
        .ct_eq(stored.secret_sha256.as_bytes())
        .into()
}

/// Uniform random characters from `alphabet` (rejection sampling: no modulo bias).
pub(crate) fn random_string(alphabet: &[u8], len: usize) -> Result<String> {
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        getrandom::fill(&mut buf)
            .map_err(|e| Error::Config(format!("the OS random source failed: {e}")))?;
        for &b in &buf {
            if usize::from(b) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn generated_keys_parse_and_verify() {
        let tenant = TenantId::parse("acme").unwrap();
        let (full, key) = generate_key(
            tenant,
            vec![Scope::Read],
            vec![],
            None,
            DateTime::UNIX_EPOCH,
        )
        .unwrap();
        let (id, secret) = parse_key(&full).unwrap();
        assert_eq!(id, key.id);
        assert_eq!(secret.len(), SECRET_LEN);
        assert!(secret_matches(&key, secret));
        assert!(!secret_matches(&key, &secret.replace(&secret[..1], "_")));
        assert_ne!(key.secret_sha256, secret);
    }

    #[test]
    fn malformed_keys_are_rejected() {
        assert!(parse_key("nk_short_abc").is_none());
        assert!(parse_key("nk_ABCDEFGHIJKL_0123456789012345678901234567890123").is_none());
        assert!(parse_key("xx_abcdefghijkl_0123456789012345678901234567890123").is_none());
        assert!(parse_key("nk_abcdefghijkl_0123").is_none());
        assert!(parse_key("nk_abcdefghijkl_01234567890123456789012345678901").is_some());
    }
}
