//! RFC 9457 problem details: every error response is `application/problem+json`, naming the
//! offending field. The request id is filled in by the request-context middleware, which also
//! logs internal details that never reach the body. What each engine error becomes for an HTTP
//! caller is decided here ([`From<Error>`](Problem#impl-From<Error>-for-Problem)).
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use nudge_core::error::{Chain, Error};

pub const PROBLEM_JSON: &str = "application/problem+json";
const TYPE_BASE: &str = "https://nudge.dev/problems/";

/// One entry of a problem's `errors`: a failing item of a batch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemProblem {
    pub field: String,
    pub detail: String,
    pub status: u16,
}

/// A problem response (boxed: it travels in every handler's `Err`).
#[derive(Clone, Debug)]
pub struct Problem(Box<ProblemData>);

#[derive(Clone, Debug)]
pub struct ProblemData {
    pub status: StatusCode,
    pub slug: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub field: Option<String>,
    pub errors: Vec<ItemProblem>,
    /// For the log only (an error and its sources); never serialized.
    pub internal: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &'static str, title: &'static str) -> Self {
        Problem(Box::new(ProblemData {
            status,
            slug,
            title,
            detail: title.to_string(),
            field: None,
            errors: Vec::new(),
            internal: None,
        }))
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn errors(mut self, errors: Vec<ItemProblem>) -> Self {
        self.errors = errors;
        self
    }

    pub fn bad_request(slug: &'static str, detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, slug, "Bad request").detail(detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized").detail(detail)
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").detail(detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(detail)
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
        )
        .detail(detail)
        .field(field)
    }

    pub fn internal(log: impl Into<String>) -> Self {
        let mut p = Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        )
        .detail("the request failed on our side; quote the request id when reporting it");
        p.internal = Some(log.into());
        p
    }

    /// A dependency failed in a way that may pass: the caller may retry later.
    pub fn unavailable(log: impl Into<String>) -> Self {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .detail("a dependency is unavailable; retry later");
        p.internal = Some(log.into());
        p
    }

    /// The generic problem for a status produced outside the handlers (axum rejections).
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Problem::not_found("no such resource"),
            StatusCode::METHOD_NOT_ALLOWED => {
                Problem::new(status, "method-not-allowed", "Method not allowed")
                    .detail("this route does not accept that method; see the Allow header")
            }
            StatusCode::PAYLOAD_TOO_LARGE => too_large(super::MAX_BODY_BYTES),
            s if s.is_server_error() => Problem::internal(format!("status {s} without a problem")),
            s => Problem::new(s, "bad-request", "Bad request")
                .detail(s.canonical_reason().unwrap_or("request rejected")),
        }
    }

    /// The JSON body, with the request id.
    pub fn body<'a>(&'a self, request_id: &'a str) -> ProblemBody<'a> {
        ProblemBody {
            problem_type: format!("{TYPE_BASE}{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            field: self.field.as_deref(),
            errors: &self.errors,
            request_id,
        }
    }
}

/// What a problem response's body holds.
#[derive(Debug, Serialize)]
pub struct ProblemBody<'a> {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: &'a str,
    pub status: u16,
    pub detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub errors: &'a [ItemProblem],
    pub request_id: &'a str,
}

impl std::ops::Deref for Problem {
    type Target = ProblemData;
    fn deref(&self) -> &ProblemData {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemData {
        &mut self.0
    }
}

/// 413 for a body over `limit` bytes.
pub fn too_large(limit: usize) -> Problem {
    let size = if limit.is_multiple_of(1024 * 1024) {
        format!("{} MB", limit / (1024 * 1024))
    } else {
        format!("{} KB", limit / 1024)
    };
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Request body too large",
    )
    .detail(format!("the request body is larger than {size}"))
}

/// The detail of a customer the caller cannot have: missing, or of a region its key does not see.
pub(super) fn customer_not_found(id: &str) -> String {
    format!("customer {id} not found")
}

pub(super) fn region_forbidden(region: Option<&str>) -> String {
    match region {
        Some(r) => format!("this API key may not write customers of region {r:?}"),
        None => "this API key may only write customers with one of its regions".into(),
    }
}

/// What an engine error is for an HTTP caller: the caller's own mistakes (422, 404, 409) say
/// what is wrong; the rest is a generic 503 (a provider that may answer later) or 500 whose
/// body names nothing internal, with the error's whole chain kept for the log.
impl From<Error> for Problem {
    fn from(err: Error) -> Self {
        match err {
            Error::Invalid { field, message } => Problem::invalid(field, message),
            Error::NotFound(what) => Problem::not_found(format!("{what} not found")),
            Error::Conflict(what) => {
                Problem::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(what)
            }
            Error::Reused { field, message } => {
                Problem::new(StatusCode::CONFLICT, "id-reused", "Id already used")
                    .detail(message)
                    .field(field)
            }
            Error::Provider {
                retryable: true, ..
            } => Problem::unavailable(Chain(&err).to_string()),
            Error::Store(_)
            | Error::StoreBackend { .. }
            | Error::Provider { .. }
            | Error::Config(_) => Problem::internal(Chain(&err).to_string()),
        }
    }
}

impl IntoResponse for Problem {
    /// The body is rendered by the middleware, which knows the request id; the problem travels
    /// in the response extensions until then.
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refused() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused")
    }

    #[test]
    fn a_failing_dependency_is_logged_with_its_causes_and_shown_as_nothing() {
        let err = Error::store_backend("dynamodb get_item: dispatch failure", refused());
        let problem = Problem::from(err);
        assert_eq!(problem.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            problem.internal.as_deref(),
            Some("store error: dynamodb get_item: dispatch failure: connection refused")
        );
        let body = serde_json::to_string(&problem.body("r-1")).unwrap();
        assert!(
            !body.contains("dynamodb") && !body.contains("refused"),
            "{body}"
        );
        let throttled = Problem::from(Error::Provider {
            retryable: true,
            message: "sns: Throttling".into(),
            source: Some(Box::new(refused())),
        });
        assert_eq!(throttled.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            throttled.internal.as_deref(),
            Some("provider error (retryable): sns: Throttling: connection refused")
        );
        let permanent = Problem::from(Error::Provider {
            retryable: false,
            message: "eventbridge: AccessDenied".into(),
            source: None,
        });
        assert_eq!(permanent.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}
