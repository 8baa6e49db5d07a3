//! The ingest function: API Gateway HTTP API requests (payload format 2.0) → the same axum
//! router `nudge dev` serves.
//!
//! | variable | meaning |
//! |---|---|
//! | `WEBHOOK_SECRETS` | optional JSON object `{"<tenant>": "<secret>", …}`: those tenants' requests must carry `X-Nudge-Signature` made with their secret (and `POST /v1/inbound/generic` accepts only those) |
//! | `TWILIO_AUTH_TOKENS` | optional JSON object `{"<tenant>": "<auth token>", …}` for `POST /v1/inbound/twilio` |
//! | `TENCENT_CALLBACK_TOKENS` | optional JSON object `{"<tenant>": "<token>", …}`: the `?token=` of each tenant's Tencent Cloud SMS callback URLs (`/v1/callbacks/tencent/{tenant}/status` and `/reply`) |
//! | `PUBLIC_BASE_URL` | the API's URL as Twilio calls it (e.g. the `ApiUrl` output), which Twilio signs |
//!
//! Everything else (table, rulebooks) comes from [`Config`](super::Config).
use axum::Router;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;
use std::collections::{BTreeMap, HashMap};
use tower::util::MapRequest;
use tower::ServiceExt;

use nudge_core::domain::TenantId;
use nudge_core::error::{Error, Result};
use nudge_http::HttpConfig;

pub const WEBHOOK_SECRETS_VAR: &str = "WEBHOOK_SECRETS";
pub const TWILIO_AUTH_TOKENS_VAR: &str = "TWILIO_AUTH_TOKENS";
pub const PUBLIC_BASE_URL_VAR: &str = "PUBLIC_BASE_URL";
pub const TENCENT_CALLBACK_TOKENS_VAR: &str = "TENCENT_CALLBACK_TOKENS";
/// Shortest accepted webhook secret.
pub const MIN_SECRET_LEN: usize = 16;

/// The HTTP settings of the function, from the environment.
pub fn http_config_from_env() -> Result<HttpConfig> {
    http_config_from_lookup(|name| std::env::var(name).ok())
}

/// The HTTP settings read through `lookup` (the environment, or a map in tests). An unset or
/// blank variable means the setting is off (no tenant signs its requests, no Twilio number).
pub fn http_config_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<HttpConfig> {
    let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let public_base_url = match get(PUBLIC_BASE_URL_VAR) {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Some(url.trim_end_matches('/').to_string())
        }
        Some(_) => {
            return Err(Error::Config(format!(
                "{PUBLIC_BASE_URL_VAR} must start with https:// (the URL providers call)"
            )))
        }
        None => None,
    };
    Ok(HttpConfig {
        webhook_secrets: secrets(WEBHOOK_SECRETS_VAR, get(WEBHOOK_SECRETS_VAR))?,
        twilio_auth_tokens: secrets(TWILIO_AUTH_TOKENS_VAR, get(TWILIO_AUTH_TOKENS_VAR))?,
        tencent_callback_tokens: secrets(
            TENCENT_CALLBACK_TOKENS_VAR,
            get(TENCENT_CALLBACK_TOKENS_VAR),
        )?,
        public_base_url,
        // API Gateway hands the function the whole body: the default is never reached.
        ..HttpConfig::default()
    })
}

/// A JSON object of tenant → secret from variable `var`; errors never echo a secret.
fn secrets(var: &str, text: Option<String>) -> Result<HashMap<TenantId, String>> {
    let Some(text) = text else {
        return Ok(HashMap::new());
    };
    // A BTreeMap keeps the first problem reported stable.
    let raw: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|e| {
        Error::Config(format!(
            "{var} must be a JSON object of tenant → secret strings (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let mut parsed = HashMap::with_capacity(raw.len());
    for (tenant, secret) in raw {
        let tenant = TenantId::parse(tenant.clone())
            .map_err(|_| Error::Config(format!("{var}: {tenant:?} is not a tenant id")))?;
        if secret.trim().len() < MIN_SECRET_LEN {
            return Err(Error::Config(format!(
                "{var}: the secret of tenant {tenant} is shorter than {MIN_SECRET_LEN} characters"
            )));
        }
        parsed.insert(tenant, secret);
    }
    Ok(parsed)
}

/// The request as the router knows it, without the stage prefix.
///
/// For a named stage (anything but `$default`) `lambda_http` makes the path start with
/// `/<stage>` — API Gateway's `rawPath` carries it, and `lambda_http` adds it when it does
/// not — so it is removed exactly once here; the query string is kept.
pub fn without_stage(mut request: lambda_http::Request) -> lambda_http::Request {
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.stage.clone(),
        _ => None,
    };
    let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") else {
        return request;
    };
    let uri = request.uri();
    let Some(rest) = uri
        .path()
        .strip_prefix('/')
        .and_then(|p| p.strip_prefix(stage.as_str()))
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
    else {
        return request;
    };
    let path = if rest.is_empty() { "/" } else { rest };
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    match path_and_query.parse() {
        Ok(pq) => parts.path_and_query = Some(pq),
        // Unreachable: a suffix of a valid path (and its query) is valid.
        Err(_) => return request,
    }
    if let Ok(new_uri) = axum::http::Uri::from_parts(parts) {
        *request.uri_mut() = new_uri;
    }
    request
}

/// The service `lambda_http::run` serves: the router behind [`without_stage`].
pub type ApiGatewayApp = MapRequest<Router, fn(lambda_http::Request) -> lambda_http::Request>;

/// Wraps the API router for API Gateway HTTP API events (`lambda_http::run(api_gateway_app(…))`).
pub fn api_gateway_app(router: Router) -> ApiGatewayApp {
    ServiceExt::<lambda_http::Request>::map_request(router, without_stage as fn(_) -> _)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use lambda_http::request::LambdaRequest;

    fn config(value: Option<&str>) -> Result<HttpConfig> {
        http_config_from_lookup(|name| match name {
            WEBHOOK_SECRETS_VAR => value.map(str::to_owned),
            _ => None,
        })
    }

    #[test]
    fn twilio_tokens_and_the_public_url() {
        let env = |name: &str| match name {
            TWILIO_AUTH_TOKENS_VAR => {
                Some(r#"{"acme": "12345678901234567890123456789012"}"#.into())
            }
            PUBLIC_BASE_URL_VAR => Some("https://abc.execute-api.us-east-1.amazonaws.com/".into()),
            _ => None,
        };
        let c = http_config_from_lookup(env).unwrap();
        assert_eq!(c.twilio_auth_tokens.len(), 1);
        assert!(c.webhook_secrets.is_empty());
        assert_eq!(
            c.public_base_url.as_deref(),
            Some("https://abc.execute-api.us-east-1.amazonaws.com")
        );
        let err = http_config_from_lookup(|name| {
            (name == PUBLIC_BASE_URL_VAR).then(|| "abc.example.com".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains(PUBLIC_BASE_URL_VAR), "{err}");
        let err = http_config_from_lookup(|name| {
            (name == TWILIO_AUTH_TOKENS_VAR).then(|| r#"{"acme": "1234"}"#.to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(TWILIO_AUTH_TOKENS_VAR) && !err.contains("1234\""),
            "{err}"
        );
    }

    #[test]
    fn tencent_callback_tokens_per_tenant() {
        let c = http_config_from_lookup(|name| {
            (name == TENCENT_CALLBACK_TOKENS_VAR)
                .then(|| r#"{"acme": "cb-token-0123456789abcdef"}"#.to_string())
        })
        .unwrap();
        let acme = TenantId::parse("acme").unwrap();
        assert_eq!(
            c.tencent_callback_tokens.get(&acme).map(String::as_str),
            Some("cb-token-0123456789abcdef")
        );
        let err = http_config_from_lookup(|name| {
            (name == TENCENT_CALLBACK_TOKENS_VAR).then(|| r#"{"acme": "short"}"#.to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(TENCENT_CALLBACK_TOKENS_VAR) && !err.contains("short\""),
            "{err}"
        );
    }

    #[test]
    fn webhook_secrets_from_json() {
        assert!(config(None).unwrap().webhook_secrets.is_empty());
        assert!(config(Some("  ")).unwrap().webhook_secrets.is_empty());
        let c = config(Some(
            r#"{"acme": "0123456789abcdef0123", "swiftship": "fedcba9876543210"}"#,
        ))
        .unwrap();
        assert_eq!(c.webhook_secrets.len(), 2);
        let acme = TenantId::parse("acme").unwrap();
        assert_eq!(c.webhook_secrets[&acme], "0123456789abcdef0123");
    }

    #[test]
    fn bad_webhook_secrets_are_config_errors_without_the_secret() {
        let err = config(Some(r#"{"acme": "#)).unwrap_err().to_string();
        assert!(
            err.contains("WEBHOOK_SECRETS") && err.contains("JSON"),
            "{err}"
        );
        let err = config(Some(r#"["acme"]"#)).unwrap_err().to_string();
        assert!(err.contains("JSON object"), "{err}");
        let err = config(Some(r#"{"acme": "short-secret"}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("acme") && err.contains("shorter"), "{err}");
        assert!(!err.contains("short-secret"), "{err}");
        let err = config(Some(r#"{"acme#1": "0123456789abcdef0123"}"#))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a tenant id"), "{err}");
    }

    fn request(stage: &str, raw_path: &str, query: &str) -> lambda_http::Request {
        let event = serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": query,
            "headers": {"host": "abc123.execute-api.us-east-1.amazonaws.com"},
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {"method": "GET", "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "curl/8.5.0"},
                "requestId": "abc",
                "routeKey": "$default",
                "stage": stage,
                "time": "12/Mar/2026:19:03:58 +0000",
                "timeEpoch": 1_773_342_238_000_i64
            },
            "isBase64Encoded": false
        });
        let event: LambdaRequest = serde_json::from_value(event).unwrap();
        lambda_http::Request::from(event)
    }

    #[test]
    fn the_default_stage_keeps_the_path() {
        let r = without_stage(request("$default", "/v1/stats", "from=2026-03-01"));
        assert_eq!(r.uri().path(), "/v1/stats");
        assert_eq!(r.uri().query(), Some("from=2026-03-01"));
    }

    #[test]
    fn a_named_stage_is_removed_once() {
        // rawPath with the stage (as API Gateway sends it for a named stage)
        let r = without_stage(request("prod", "/prod/v1/stats", "from=2026-03-01"));
        assert_eq!(r.uri().path(), "/v1/stats");
        assert_eq!(r.uri().query(), Some("from=2026-03-01"));
        // rawPath without it (lambda_http adds it, this removes it again)
        let r = without_stage(request("prod", "/healthz", ""));
        assert_eq!(r.uri().path(), "/healthz");
        // a stage named like the first segment of the API
        let r = without_stage(request("v1", "/v1/v1/events", ""));
        assert_eq!(r.uri().path(), "/v1/events");
        // a first segment that merely starts with the stage name stays
        let r = without_stage(request("prod", "/production/x", ""));
        assert_eq!(r.uri().path(), "/production/x");
    }
}
