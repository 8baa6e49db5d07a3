//! One error type for the library, with a retry decision. What an error becomes for an HTTP
//! caller is decided where the HTTP responses are made (`nudge-http`), not here.
use std::fmt;
use thiserror::Error;

/// Another library's error, kept whole as the source of one of ours.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, Error)]
pub enum Error {
    /// Input that is well-formed but fails a semantic check (invalid phone, unknown time zone,
    /// bad date attribute); `field` is the path of the offending field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("not found: {0}")]
    NotFound(String),
    /// An id the caller chose names something else already (an event id used for an event
    /// of another type): retrying cannot help; `field` is the id's field.
    #[error("{field}: {message}")]
    Reused { field: String, message: String },
    /// A conditional write lost a race (optimistic concurrency); the caller re-reads and retries.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store failed or answered something unusable (an item without a body, an unknown
    /// answer code); the text says what, for logs, never for response bodies.
    #[error("store error: {0}")]
    Store(String),
    /// The storage backend failed with an error of its own: `context` says what failed (as the
    /// text of [`Error::Store`] does) and `source` keeps the backend's error, so logs show the
    /// whole chain ([`Chain`]). For logs, never for response bodies.
    #[error("store error: {context}")]
    StoreBackend {
        context: String,
        #[source]
        source: BoxError,
    },
    /// A provider (SMS gateway, event bus) failed. `message` is short (it becomes a failed
    /// text's reason); `source`, when there is one, is the provider client's own error, for
    /// the logs.
    #[error("provider error ({}): {message}", if *.retryable { "retryable" } else { "permanent" })]
    Provider {
        retryable: bool,
        message: String,
        #[source]
        source: Option<BoxError>,
    },
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

    /// A store failure described by `err`'s text alone.
    pub fn store(err: impl fmt::Display) -> Self {
        Error::Store(err.to_string())
    }

    /// A store failure caused by the backend's own error, which is kept as the source.
    pub fn store_backend(context: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::StoreBackend {
            context: context.into(),
            source: source.into(),
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Conflict(_)
                | Error::Store(_)
                | Error::StoreBackend { .. }
                | Error::Provider {
                    retryable: true,
                    ..
                }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error followed by its sources, `: `-separated, for logs: `error = %Chain(&err)`. A source
/// whose text the line already ends with (a wrapper repeating its cause) is not repeated.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut next = self.0.source();
        while let Some(cause) = next {
            let text = cause.to_string();
            if !text.is_empty() && !line.ends_with(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            next = cause.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, Error)]
    #[error("connection refused")]
    struct Refused;

    #[derive(Debug, Error)]
    #[error("dispatch failure")]
    struct Dispatch(#[source] Refused);

    #[test]
    fn the_chain_shows_every_cause_once() {
        let err = Error::store_backend("dynamodb get_item: dispatch failure", Dispatch(Refused));
        assert_eq!(
            err.to_string(),
            "store error: dynamodb get_item: dispatch failure"
        );
        assert_eq!(
            Chain(&err).to_string(),
            "store error: dynamodb get_item: dispatch failure: connection refused"
        );
        assert!(err.is_retryable());
        let plain = Error::store("stored item has no body");
        assert_eq!(
            Chain(&plain).to_string(),
            "store error: stored item has no body"
        );
    }

    #[test]
    fn a_provider_error_keeps_its_client_error_as_the_source() {
        let err = Error::Provider {
            retryable: true,
            message: "sns: dispatch failure".into(),
            source: Some(Box::new(Dispatch(Refused))),
        };
        assert_eq!(
            Chain(&err).to_string(),
            "provider error (retryable): sns: dispatch failure: connection refused"
        );
    }
}
