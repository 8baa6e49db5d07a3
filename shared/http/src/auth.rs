//! Who is calling: the bearer API key (scopes, regions) and, for tenants with a webhook
//! secret, the HMAC signature of the request.
use axum::http::{header, HeaderMap};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::keys::{parse_key, secret_matches};
use super::problem::Problem;
use super::AppState;
use nudge_core::domain::{ApiKey, Customer, Scope, TenantId};
use nudge_core::ports::Store;

pub const SIGNATURE_HEADER: &str = "x-nudge-signature";
/// How far a signature's timestamp may be from the engine clock.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Caller {
    pub key: ApiKey,
}

impl Caller {
    pub fn tenant(&self) -> &TenantId {
        &self.key.tenant
    }

    /// Whether this caller may see the customer (region-scoped keys see only their regions).
    pub fn sees(&self, customer: &Customer) -> bool {
        self.key.sees_region(customer.region.as_deref())
    }

    pub fn is_regional(&self) -> bool {
        !self.key.regions.is_empty()
    }

    /// A region-scoped key may only write customers of its regions.
    pub fn may_write_region(&self, region: Option<&str>) -> bool {
        self.key.sees_region(region)
    }
}

/// Checks the bearer key and its scope: 401 for a missing, unknown, wrong or revoked key,
/// 403 for a valid key without the scope.
pub async fn authenticate<S: Store + ?Sized>(
    state: &AppState<S>,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<Caller, Problem> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or_else(|| Problem::unauthorized("missing Authorization: Bearer <API key>"))?;
    let invalid = || Problem::unauthorized("invalid API key");
    let (id, secret) = parse_key(presented).ok_or_else(invalid)?;
    let key = state
        .engine
        .store()
        .get_api_key(id)
        .await?
        .ok_or_else(invalid)?;
    if !secret_matches(&key, secret) {
        return Err(invalid());
    }
    if key.revoked_at.is_some() {
        return Err(Problem::unauthorized("this API key has been revoked"));
    }
    if !key.allows(scope) {
        return Err(Problem::forbidden(format!(
            "this API key lacks the {} scope",
            scope.as_str()
        )));
    }
    if state.engine.rulebook(&key.tenant).is_err() {
        return Err(Problem::forbidden(format!(
            "tenant {} is not served here",
            key.tenant
        )));
    }
    Ok(Caller { key })
}

/// The `X-Nudge-Signature` value for a body signed at `timestamp` (for clients and tests).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = hmac_for(secret, timestamp, body)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={timestamp},v1={digest}")
}

/// HMAC-SHA256 over `"<timestamp>.<body>"` (None only if the key were refused, which HMAC
/// never does).
fn hmac_for(secret: &str, timestamp: i64, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// Verifies `t=<unix>,v1=<hex>` (several `v1` allowed, for secret rotation) over
/// `"<t>.<raw body>"`, in constant time, with a timestamp within 5 minutes of `now`.
pub fn verify_signature(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), Problem> {
    let header = header.ok_or_else(|| {
        Problem::unauthorized("missing X-Nudge-Signature: t=<unix>,v1=<hex HMAC-SHA256>")
    })?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let timestamp =
        timestamp.ok_or_else(|| Problem::unauthorized("malformed X-Nudge-Signature"))?;
    if candidates.is_empty() {
        return Err(Problem::unauthorized("malformed X-Nudge-Signature"));
    }
    if (now.timestamp() - timestamp).abs() > SIGNATURE_TOLERANCE_SECONDS {
        return Err(Problem::unauthorized(
            "signature too old: its timestamp is more than 5 minutes from the server clock",
        ));
    }
    let valid = candidates
        .iter()
        .filter_map(|c| Some((hmac_for(secret, timestamp, body)?, c)))
        .any(|(mac, c)| mac.verify_slice(c).is_ok());
    if valid {
        Ok(())
    } else {
        Err(Problem::unauthorized("invalid signature"))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn signatures_round_trip_and_expire() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let header = sign("s3cret", now.timestamp(), b"{}");
        assert!(verify_signature("s3cret", Some(&header), b"{}", now).is_ok());
        assert!(verify_signature("other", Some(&header), b"{}", now).is_err());
        assert!(verify_signature("s3cret", Some(&header), b"{ }", now).is_err());
        let late = now + chrono::TimeDelta::seconds(301);
        let err = verify_signature("s3cret", Some(&header), b"{}", late).unwrap_err();
        assert!(err.detail.contains("too old"));
        assert!(verify_signature("s3cret", None, b"{}", now).is_err());
    }
}
