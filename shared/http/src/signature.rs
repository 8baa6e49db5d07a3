//! Signed requests: `X-Nudge-Signature: t=<unix>,v1=<hex>`, an HMAC-SHA256 with the tenant's
//! webhook secret over `"<t>.<raw body>"`. Tenants with a webhook secret must sign every
//! request; `POST /v1/inbound/generic` takes no other credential.
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::problem::Problem;

pub const SIGNATURE_HEADER: &str = "x-nudge-signature";
/// How far a signature's timestamp may be from the engine clock.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

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
