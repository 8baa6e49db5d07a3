//! What the AWS adapters share: turning an SDK error into `Error::Provider` (or a sender's
//! `SendError`) with a retry
//! decision and a short message (the error code, never the SDK's Debug text), the SDK's own
//! error chain kept as the source for the logs.
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::fmt;

use nudge_core::error::Error;
use nudge_core::ports::SendError;

/// Error codes that mean "too fast" or "the service had a problem": trying later may work.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "Throttled",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "KMSThrottlingException",
    "KMSThrottling",
    "InternalError",
    "InternalErrorException",
    "InternalFailure",
    "InternalException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether an error answer from a service may succeed when retried, from its code and HTTP
/// status: throttling and internal errors (any 5xx) are retryable, the rest is permanent.
pub fn is_retryable_answer(code: Option<&str>, status: Option<u16>) -> bool {
    if let Some(code) = code {
        if RETRYABLE_CODES.contains(&code) {
            return true;
        }
    }
    matches!(status, Some(500..=599) | Some(429))
}

/// Whether an error code or message says the destination number opted out of texts.
pub fn is_opted_out(code: Option<&str>, message: Option<&str>) -> bool {
    let mentions = |text: &str| {
        let lower = text.to_ascii_lowercase();
        lower.contains("opted out") || lower.contains("optedout") || lower.contains("opted-out")
    };
    code.is_some_and(mentions) || message.is_some_and(mentions)
}

/// Maps an SDK error of a sender to the [`SendError`] the outbox acts on: the destination
/// opted out, or (as [`provider_error`] decides) retryable or permanent. Service answers
/// that mean more to one service (an invalid number, a spend limit) are that adapter's to
/// recognise first.
pub fn send_error<E>(service: &str, err: &SdkError<E, HttpResponse>) -> SendError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(ctx) = err {
        if is_opted_out(ctx.err().code(), ctx.err().message()) {
            return SendError::OptedOut {
                provider: service.to_string(),
            };
        }
    }
    match provider_error(service, err) {
        Error::Provider {
            retryable: true,
            message,
            source,
        } => SendError::Retryable { message, source },
        Error::Provider {
            message, source, ..
        } => SendError::Permanent { message, source },
        other => SendError::Local(other),
    }
}

/// Maps an SDK error to `Error::Provider`. `service` names the provider in the message
/// (`"sns"`, `"eventbridge"`). Timeouts, dispatch (connection) failures and unreadable
/// responses are retryable; a request that could not be built is not.
pub fn provider_error<E>(service: &str, err: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (retryable, what) = match err {
        SdkError::ConstructionFailure(_) => (false, "request construction failed".to_string()),
        SdkError::TimeoutError(_) => (true, "timeout".to_string()),
        SdkError::DispatchFailure(_) => (true, "dispatch failure".to_string()),
        SdkError::ResponseError(_) => (true, "unreadable response".to_string()),
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code();
            let status = ctx.raw().status().as_u16();
            let retryable = is_retryable_answer(code, Some(status));
            let what = match code {
                Some(code) => code.to_string(),
                None => format!("http {status}"),
            };
            (retryable, what)
        }
        // `SdkError` is non-exhaustive: an unknown kind is treated as transient.
        _ => (true, "unknown error".to_string()),
    };
    // A service's answer is its own error; any other failure is the SDK's (with the
    // connector's error, say, as its source).
    let cause = match err {
        SdkError::ServiceError(ctx) => Cause::of(ctx.err()),
        other => Cause::of(other),
    };
    Error::Provider {
        retryable,
        message: format!("{service}: {what}"),
        source: Some(Box::new(cause)),
    }
}

/// The texts of an error and of its sources, owned: what the logs need of an SDK error that
/// is only borrowed here.
#[derive(Debug)]
struct Cause {
    text: String,
    source: Option<Box<Cause>>,
}

impl Cause {
    fn of(err: &dyn std::error::Error) -> Cause {
        Cause {
            text: err.to_string(),
            source: err.source().map(|source| Box::new(Cause::of(source))),
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_retryable() {
        assert!(is_retryable_answer(Some("ThrottledException"), Some(400)));
        assert!(is_retryable_answer(Some("Throttling"), Some(400)));
        assert!(is_retryable_answer(
            Some("KMSThrottlingException"),
            Some(400)
        ));
        assert!(is_retryable_answer(Some("InternalError"), Some(500)));
        assert!(is_retryable_answer(None, Some(503)));
        assert!(is_retryable_answer(Some("Whatever"), Some(502)));
    }

    #[test]
    fn client_errors_are_permanent() {
        assert!(!is_retryable_answer(Some("InvalidParameter"), Some(400)));
        assert!(!is_retryable_answer(
            Some("InvalidParameterValue"),
            Some(400)
        ));
        assert!(!is_retryable_answer(Some("AuthorizationError"), Some(403)));
        assert!(!is_retryable_answer(None, Some(404)));
    }

    #[test]
    fn opted_out_is_recognised_in_code_or_message() {
        assert!(is_opted_out(Some("OptedOut"), None));
        assert!(is_opted_out(
            Some("InvalidParameter"),
            Some("Phone number is opted out")
        ));
        assert!(!is_opted_out(Some("InvalidParameter"), Some("bad number")));
    }
}
