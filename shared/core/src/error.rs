//! One error type for the library, with one mapping to an HTTP status and a retry decision.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// Input that is well-formed but fails a semantic check (invalid phone, unknown time zone,
    /// bad date attribute); `field` is the path of the offending field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not found: {0}")]
    NotFound(String),
    /// A conditional write lost a race (optimistic concurrency); the caller re-reads and retries.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The storage backend failed; the text is for logs, never for response bodies.
    #[error("store error: {0}")]
    Store(String),
    /// A provider (SMS gateway, event bus) failed.
    #[error("provider error ({}): {message}", if *.retryable { "retryable" } else { "permanent" })]
    Provider { retryable: bool, message: String },
    /// The provider refuses the destination because the number opted out with it (e.g. SNS
    /// `OptedOut`): the number is suppressed rather than retried.
    #[error("recipient opted out at the provider ({provider})")]
    RecipientOptedOut { provider: String },
    #[error("configuration error: {0}")]
    Config(String),
}

impl Error {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn store(err: impl std::fmt::Display) -> Self {
        Error::Store(err.to_string())
    }

    /// HTTP status a request failing with this error maps to.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::Invalid { .. } => 422,
            Error::NotFound(_) => 404,
            Error::Conflict(_) => 409,
            Error::Store(_) | Error::Config(_) => 500,
            Error::Provider {
                retryable: true, ..
            } => 503,
            Error::Provider {
                retryable: false, ..
            }
            | Error::RecipientOptedOut { .. } => 502,
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Conflict(_)
                | Error::Store(_)
                | Error::Provider {
                    retryable: true,
                    ..
                }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
