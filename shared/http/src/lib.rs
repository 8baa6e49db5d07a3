//! The HTTP API (axum): one router served by `nudge dev` and by the ingest Lambda.
//!
//! JSON under `/v1`, bearer API keys with scopes and regions, optional HMAC-signed requests
//! per tenant, and RFC 9457 problem details for every error. See the README's API reference.
pub mod auth;
mod batch;
mod body;
mod customers;
mod events;
mod inbound;
pub mod keys;
pub mod problem;
mod read;
mod reports;
pub mod signature;
mod tencent;
mod views;

use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use auth::Caller;
use auth::{Content, Guard};
pub use inbound::{twilio_signature, TWILIO_SIGNATURE_HEADER};
pub use keys::generate_key;
use nudge_core::domain::{Scope, TenantId};
use nudge_core::ports::{EventPublisher, Store};
use nudge_core::service::Engine;
pub use problem::{ItemProblem, Problem, PROBLEM_JSON};
pub use signature::{sign, SignedRequest, SIGNATURE_HEADER, SIGNATURE_TOLERANCE_SECONDS};

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Largest body of a generic inbound webhook: one text (at most 1,600 characters, even
/// `\u`-escaped) with its numbers and ids fits many times over, and the signature is
/// checked against each tenant's secret before the body is parsed.
pub const MAX_INBOUND_BODY_BYTES: usize = 64 * 1024;
/// Most customers or events in one batch request.
pub const MAX_BATCH: usize = 500;
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// How long a client has to send a request body, by default.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of the HTTP layer.
#[derive(Clone)]
pub struct HttpConfig {
    /// Tenants whose requests must carry `X-Nudge-Signature` made with this secret. It is also
    /// the only credential of `POST /v1/inbound/generic`.
    pub webhook_secrets: HashMap<TenantId, String>,
    /// Twilio auth token per tenant: `POST /v1/inbound/twilio` accepts only requests signed
    /// with it (`X-Twilio-Signature`).
    pub twilio_auth_tokens: HashMap<TenantId, String>,
    /// Callback token per tenant: the `?token=` of its Tencent Cloud SMS callback URLs
    /// (`/v1/callbacks/tencent/{tenant}/status` and `/reply`), which Tencent does not sign.
    pub tencent_callback_tokens: HashMap<TenantId, String>,
    /// This API's public URL as providers call it: scheme, host and any path prefix a proxy
    /// removes (`https://sms.example.com`, `https://abc.execute-api.eu-west-1.amazonaws.com/prod`).
    /// Twilio signs the URL it called, which behind API Gateway or a proxy is not the one this
    /// server sees. Unset: `X-Forwarded-Proto` (else `http`) and the `Host` header.
    pub public_base_url: Option<String>,
    /// How long a client has to send a request body (408 after): [`BODY_READ_TIMEOUT`].
    pub body_read_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            webhook_secrets: HashMap::new(),
            twilio_auth_tokens: HashMap::new(),
            tencent_callback_tokens: HashMap::new(),
            public_base_url: None,
            body_read_timeout: BODY_READ_TIMEOUT,
        }
    }
}

fn tenant_names(map: &HashMap<TenantId, String>) -> Vec<&str> {
    let mut names: Vec<&str> = map.keys().map(TenantId::as_str).collect();
    names.sort_unstable();
    names
}

/// Lists which tenants have secrets, never the secrets.
impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("webhook_secrets", &tenant_names(&self.webhook_secrets))
            .field(
                "twilio_auth_tokens",
                &tenant_names(&self.twilio_auth_tokens),
            )
            .field(
                "tencent_callback_tokens",
                &tenant_names(&self.tencent_callback_tokens),
            )
            .field("public_base_url", &self.public_base_url)
            .field("body_read_timeout", &self.body_read_timeout)
            .finish()
    }
}

/// What every handler shares: the engine (store, clock, rulebooks), the HTTP settings and the
/// publisher of business events (inbound replies emit `reply.received`, `customer.opted_out`…).
pub struct AppState<S: Store + ?Sized> {
    pub engine: Arc<Engine<S>>,
    pub config: Arc<HttpConfig>,
    pub publisher: Arc<dyn EventPublisher>,
}

impl<S: Store + ?Sized> AppState<S> {
    pub fn new(
        engine: Arc<Engine<S>>,
        config: HttpConfig,
        publisher: Arc<dyn EventPublisher>,
    ) -> Self {
        AppState {
            engine,
            config: Arc::new(config),
            publisher,
        }
    }
}

impl<S: Store + ?Sized> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState {
            engine: self.engine.clone(),
            config: self.config.clone(),
            publisher: self.publisher.clone(),
        }
    }
}

/// Every route of [`router`] (method, path): what a deployment must route to it. The
/// ingest function's API Gateway routes in `infra/template.yaml` are checked against this
/// list, and the router is checked to serve every entry.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("POST", "/v1/inbound/twilio"),
    ("POST", "/v1/inbound/generic"),
    ("POST", "/v1/callbacks/tencent/{tenant}/status"),
    ("POST", "/v1/callbacks/tencent/{tenant}/reply"),
    ("PUT", "/v1/customers/{id}"),
    ("GET", "/v1/customers/{id}"),
    ("DELETE", "/v1/customers/{id}"),
    ("POST", "/v1/customers:batch"),
    ("GET", "/v1/customers/{id}/messages"),
    ("POST", "/v1/events"),
    ("POST", "/v1/preview"),
    ("GET", "/v1/stats"),
    ("GET", "/v1/reports/replies"),
    ("GET", "/v1/reports/kpis"),
    ("GET", "/v1/reports/kpis.csv"),
];

/// The API router. `key(scope, content)` marks a route that takes a bearer API key with that
/// scope (and, for tenants with a webhook secret, a signed request) and a body of that
/// content; see [`auth::guard`]. The other routes take no key.
pub fn router<S: Store + ?Sized + 'static>(state: AppState<S>) -> Router {
    use Content::{Any, Json};
    use Scope::{CustomersWrite, EventsWrite, Read};
    let key = |scope, content| {
        middleware::from_fn_with_state(Guard::new(&state, scope, content), auth::guard::<S>)
    };
    Router::new()
        // No key: liveness, and the providers' webhooks, whose signature is their credential.
        .route("/healthz", get(healthz))
        .route("/v1/inbound/twilio", post(inbound::twilio::<S>))
        .route("/v1/inbound/generic", post(inbound::generic::<S>))
        .route(
            "/v1/callbacks/tencent/{tenant}/status",
            post(tencent::status::<S>),
        )
        .route(
            "/v1/callbacks/tencent/{tenant}/reply",
            post(tencent::reply::<S>),
        )
        // A key with the scope named.
        .route(
            "/v1/customers/{id}",
            put(customers::put::<S>.layer(key(CustomersWrite, Json)))
                .get(customers::get::<S>.layer(key(Read, Any)))
                .delete(customers::delete::<S>.layer(key(CustomersWrite, Any))),
        )
        .route(
            "/v1/customers:batch",
            post(customers::batch::<S>.layer(key(CustomersWrite, Json))),
        )
        .route(
            "/v1/customers/{id}/messages",
            get(read::messages::<S>.layer(key(Read, Any))),
        )
        .route(
            "/v1/events",
            post(events::post::<S>.layer(key(EventsWrite, Json))),
        )
        .route(
            "/v1/preview",
            post(read::preview::<S>.layer(key(Read, Json))),
        )
        .route("/v1/stats", get(reports::stats::<S>.layer(key(Read, Any))))
        .route(
            "/v1/reports/replies",
            get(reports::replies_report::<S>.layer(key(Read, Any))),
        )
        .route(
            "/v1/reports/kpis",
            get(reports::kpis::<S>.layer(key(Read, Any))),
        )
        .route(
            "/v1/reports/kpis.csv",
            get(reports::kpis_csv::<S>.layer(key(Read, Any))),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(middleware::from_fn(request_context))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

async fn not_found() -> Problem {
    Problem::not_found("no such route")
}

async fn method_not_allowed() -> Problem {
    Problem::for_status(StatusCode::METHOD_NOT_ALLOWED)
}

/// Gives every request an id (the caller's `X-Request-Id` when sane), renders problems with it,
/// turns any other error response into a problem, and logs internal errors.
async fn request_context(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(new_request_id, str::to_owned);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    let status = response.status();
    let problem = response.extensions_mut().remove::<Problem>().or_else(|| {
        (status.is_client_error() || status.is_server_error()).then(|| Problem::for_status(status))
    });
    if let Some(problem) = problem {
        if let Some(internal) = &problem.internal {
            tracing::error!(request_id = %request_id, %method, path, error = %internal, "request failed");
        }
        let body = match serde_json::to_string(&problem.body(&request_id)) {
            Ok(body) => body,
            // Serializing strings and numbers cannot fail; if it ever did, say so plainly.
            Err(err) => {
                tracing::error!(request_id = %request_id, error = %err, "problem body unwritable");
                String::new()
            }
        };
        let mut rendered = (
            problem.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        for (name, value) in response.headers() {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                rendered.headers_mut().insert(name.clone(), value.clone());
            }
        }
        response = rendered;
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    response
}

/// 16 random hex digits; a process-wide counter if the OS random source fails.
pub fn new_request_id() -> String {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    keys::random_string(b"0123456789abcdef", 16)
        .unwrap_or_else(|_| format!("local-{}", FALLBACK.fetch_add(1, Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use axum::body::Body;
    use nudge_core::error::Error;
    use tower::ServiceExt;

    #[tokio::test]
    async fn internal_errors_are_generic_with_a_request_id() {
        let app = Router::new()
            .route(
                "/boom",
                get(|| async {
                    Problem::from(Error::store(
                        "sqlite: disk I/O error at /var/secret/nudge.db",
                    ))
                }),
            )
            .layer(middleware::from_fn(request_context));
        let request = Request::builder().uri("/boom").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let id = response.headers()[REQUEST_ID_HEADER]
            .to_str()
            .unwrap()
            .to_owned();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        assert!(
            !text.contains("secret") && !text.contains("sqlite"),
            "{text}"
        );
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["status"], 500);
        assert_eq!(body["request_id"], id.as_str());
        assert_eq!(id.len(), 16);
    }
}
