//! Signed requests: `X-Nudge-Signature: t=<unix>,v2=<hex>`, an HMAC-SHA256 with the tenant's
//! webhook secret over
//!
//! ```text
//! <t> "\n" <METHOD> "\n" <path?query> "\n" <raw body>
//! ```
//!
//! so a signature made for one request is worthless on another method, path, query or body.
//! The path is the route's (`/v1/customers/c1`, with its query if there is one). On the API
//! a signature is accepted once: it is recorded until its timestamp leaves the tolerance,
//! and the same signature again is a replay. Tenants with a webhook secret must sign every
//! request; `POST /v1/inbound/generic` takes no other credential.
//!
//! The first scheme, `v1`, signed `"<t>.<body>"` only, so a body could be moved to another
//! path or method; it is refused with a message saying how to sign now.
use axum::http::{HeaderMap, Method, Uri};
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::problem::Problem;
use super::AppState;
use nudge_core::domain::TenantId;
use nudge_core::ports::Store;

pub const SIGNATURE_HEADER: &str = "x-nudge-signature";
/// How far a signature's timestamp may be from the engine clock.
pub const SIGNATURE_TOLERANCE_SECONDS: i64 = 300;

/// What a signature covers.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path with its query (`/v1/stats?from=2026-03-01`), as the route names it.
    pub path_and_query: &'a str,
    pub body: &'a [u8],
}

impl<'a> SignedRequest<'a> {
    pub fn of(method: &'a Method, uri: &'a Uri, body: &'a [u8]) -> Self {
        SignedRequest {
            method: method.as_str(),
            path_and_query: uri.path_and_query().map_or("/", |p| p.as_str()),
            body,
        }
    }
}

/// The `X-Nudge-Signature` value for `request` signed at `timestamp` (for clients, `nudge
/// sign` and tests).
pub fn sign(secret: &str, timestamp: i64, request: SignedRequest) -> String {
    let digest = hmac_for(secret, timestamp, request)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default();
    format!("t={timestamp},v2={digest}")
}

/// HMAC-SHA256 over the signed text (None only if the key were refused, which HMAC never
/// does).
fn hmac_for(secret: &str, timestamp: i64, request: SignedRequest) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(request.method.as_bytes());
    mac.update(b"\n");
    mac.update(request.path_and_query.as_bytes());
    mac.update(b"\n");
    mac.update(request.body);
    Some(mac)
}

/// A signature that verified: its hex digest, and until when it would verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub signature: String,
    pub until: DateTime<Utc>,
}

/// Verifies `t=<unix>,v2=<hex>` (several `v2` allowed, for secret rotation) over `request`,
/// in constant time, with a timestamp within 5 minutes of `now`. Does not look for replays:
/// [`check_signed`] does.
pub fn verify_signature(
    secret: &str,
    header: Option<&str>,
    request: SignedRequest,
    now: DateTime<Utc>,
) -> Result<Verified, Problem> {
    let header = header.ok_or_else(|| {
        Problem::unauthorized(
            "missing X-Nudge-Signature: t=<unix>,v2=<hex HMAC-SHA256 of t, method, path and body>",
        )
    })?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    let mut first_scheme = false;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v2", v)) => candidates.extend(hex::decode(v).ok()),
            Some(("v1", _)) => first_scheme = true,
            _ => {}
        }
    }
    if candidates.is_empty() && first_scheme {
        return Err(Problem::unauthorized(
            "X-Nudge-Signature v1 (over the body alone) is no longer accepted: send \
             t=<unix>,v2=<hex HMAC-SHA256 of \"<t>\\n<METHOD>\\n<path?query>\\n<body>\">",
        ));
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
    // The MAC over the request is computed once; each candidate is checked against a copy.
    let mac = hmac_for(secret, timestamp, request);
    let valid = candidates.iter().find(|c| {
        mac.as_ref()
            .is_some_and(|mac| mac.clone().verify_slice(c).is_ok())
    });
    let until = DateTime::from_timestamp(timestamp, 0)
        .and_then(|t| t.checked_add_signed(TimeDelta::seconds(SIGNATURE_TOLERANCE_SECONDS)));
    match (valid, until) {
        (Some(signature), Some(until)) => Ok(Verified {
            signature: hex::encode(signature),
            until,
        }),
        _ => Err(Problem::unauthorized("invalid signature")),
    }
}

/// Verifies the request's signature with `tenant`'s `secret` and records it, refusing a
/// signature accepted before (a replayed request) with 401.
pub async fn check_signed<S: Store + ?Sized>(
    state: &AppState<S>,
    tenant: &TenantId,
    secret: &str,
    headers: &HeaderMap,
    request: SignedRequest<'_>,
) -> Result<(), Problem> {
    let header = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    let now = state.engine.now();
    let verified = verify_signature(secret, header, request, now)?;
    let first = state
        .engine
        .store()
        .record_signature(tenant, &verified.signature, now, verified.until)
        .await?;
    if first {
        Ok(())
    } else {
        Err(Problem::unauthorized(
            "this signature was used before: sign every request anew, a retry too",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn request<'a>(method: &'a str, path: &'a str, body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method,
            path_and_query: path,
            body,
        }
    }

    #[test]
    fn signatures_round_trip_and_expire() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let put = request("PUT", "/v1/customers/c1", b"{}");
        let header = sign("s3cret", now.timestamp(), put);
        let verified = verify_signature("s3cret", Some(&header), put, now).unwrap();
        assert_eq!(verified.until, now + TimeDelta::seconds(300));
        assert!(header.ends_with(&verified.signature));
        assert!(verify_signature("other", Some(&header), put, now).is_err());
        let other_body = request("PUT", "/v1/customers/c1", b"{ }");
        assert!(verify_signature("s3cret", Some(&header), other_body, now).is_err());
        let late = now + TimeDelta::seconds(301);
        let err = verify_signature("s3cret", Some(&header), put, late).unwrap_err();
        assert!(err.detail.contains("too old"));
        assert!(verify_signature("s3cret", None, put, now).is_err());
    }

    /// A signature covers the method, the path and the query: a signed GET is no DELETE,
    /// and a signed PUT body is not accepted on another customer's path.
    #[test]
    fn a_signature_covers_method_path_and_query() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let t = now.timestamp();
        let get = request("GET", "/v1/customers/b1", b"");
        let header = sign("s3cret", t, get);
        assert!(verify_signature("s3cret", Some(&header), get, now).is_ok());
        let delete = request("DELETE", "/v1/customers/b1", b"");
        assert!(verify_signature("s3cret", Some(&header), delete, now).is_err());
        let put = request("PUT", "/v1/customers/b1", br#"{"phone":"13800138000"}"#);
        let header = sign("s3cret", t, put);
        let elsewhere = request("PUT", "/v1/customers/b2", put.body);
        assert!(verify_signature("s3cret", Some(&header), elsewhere, now).is_err());
        let stats = request("GET", "/v1/stats?from=2026-03-01", b"");
        let header = sign("s3cret", t, stats);
        let other_query = request("GET", "/v1/stats?from=2025-03-01", b"");
        assert!(verify_signature("s3cret", Some(&header), other_query, now).is_err());
    }

    /// The worked example of the README, byte for byte.
    #[test]
    fn the_readme_example_signs_as_documented() {
        let put = request("PUT", "/v1/customers/c1", br#"{"phone":"+8613800138000"}"#);
        let header = sign("whsec_example", 1_767_225_600, put);
        let readme = include_str!("../../../README.md");
        assert!(readme.contains(&header), "README must show {header}");
    }

    #[test]
    fn the_first_scheme_is_refused_with_how_to_sign_now() {
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let header = format!("t={},v1=00ff", now.timestamp());
        let err =
            verify_signature("s3cret", Some(&header), request("GET", "/", b""), now).unwrap_err();
        assert!(err.detail.contains("v2"), "{}", err.detail);
    }
}
