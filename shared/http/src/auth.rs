//! Who is calling. Every route of [`router`](super::router) but the open ones carries a
//! [`guard`] naming the scope its bearer API key needs; the guard also checks the content type,
//! reads the body within the size limit and verifies the tenant's signature, then hands the
//! handler the [`Caller`] and the body it read.
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::Response;

use super::body::{is_json, read_body, unsupported_media_type};
use super::keys::{parse_key, secret_matches};
use super::problem::Problem;
use super::signature::{check_signed, SignedRequest};
use super::AppState;
use nudge_core::domain::{ApiKey, Customer, Scope, TenantId};
use nudge_core::ports::Store;

/// An authenticated caller: what a guarded route's handler takes as an argument.
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
        self.key.is_regional()
    }

    /// A region-scoped key may only write customers of its regions.
    pub fn may_write_region(&self, region: Option<&str>) -> bool {
        self.key.sees_region(region)
    }
}

/// The caller the route's guard authenticated. A handler asking for it on a route without a
/// guard is a wiring mistake: a 500, never an anonymous caller.
impl<T: Send + Sync> FromRequestParts<T> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &T) -> Result<Self, Problem> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Problem::internal("a handler wants a caller but its route has no guard"))
    }
}

/// What a guarded route takes as its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    /// JSON (`application/json` or `application/*+json`); anything else is a 415.
    Json,
    /// Any body, of any content type (GETs: the empty body, which is still signed).
    Any,
}

/// One route's requirements: the scope of its key and the content of its body.
pub struct Guard<S: Store + ?Sized> {
    state: AppState<S>,
    scope: Scope,
    content: Content,
}

impl<S: Store + ?Sized> Guard<S> {
    pub fn new(state: &AppState<S>, scope: Scope, content: Content) -> Self {
        Guard {
            state: state.clone(),
            scope,
            content,
        }
    }
}

impl<S: Store + ?Sized> Clone for Guard<S> {
    fn clone(&self) -> Self {
        Guard {
            state: self.state.clone(),
            scope: self.scope,
            content: self.content,
        }
    }
}

/// The guard middleware, in this order: the key and its scope (401/403), the content type
/// when the route takes JSON (415), the body read within the size limit (413), the signature
/// when the key's tenant has a webhook secret (401, also for a replayed signature). The handler then finds the [`Caller`] and
/// the body already read.
pub async fn guard<S: Store + ?Sized>(
    State(guard): State<Guard<S>>,
    request: Request,
    next: Next,
) -> Result<Response, Problem> {
    let (mut parts, body) = request.into_parts();
    let caller = authenticate(&guard.state, &parts.headers, guard.scope).await?;
    if guard.content == Content::Json && !is_json(&parts.headers) {
        return Err(unsupported_media_type("application/json"));
    }
    let body = read_body(&parts.headers, body, guard.state.config.body_read_timeout).await?;
    if let Some(secret) = guard.state.config.webhook_secrets.get(caller.tenant()) {
        let request = SignedRequest::of(&parts.method, &parts.uri, &body);
        check_signed(
            &guard.state,
            caller.tenant(),
            secret,
            &parts.headers,
            request,
        )
        .await?;
    }
    parts.extensions.insert(caller);
    Ok(next.run(Request::from_parts(parts, Body::from(body))).await)
}

/// Checks the bearer key and its scope: 401 for a missing, unknown, wrong or revoked key,
/// 403 for a valid key without the scope or of a tenant not served here.
async fn authenticate<S: Store + ?Sized>(
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    /// A handler wanting a caller on a route without a guard is refused, never served anonymously.
    #[tokio::test]
    async fn a_caller_exists_only_behind_a_guard() {
        let app = Router::new().route("/unguarded", get(|_caller: Caller| async { "served" }));
        let request = Request::builder()
            .uri("/unguarded")
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let problem = response.extensions().get::<Problem>().unwrap();
        assert!(problem.internal.as_deref().unwrap().contains("no guard"));
    }
}
