//! SDK errors → `nudge_core::Error`: short texts (operation + error kind), never the SDK's
//! Debug output, with the SDK's error kept as the source for the logs; transaction
//! cancellations classified by item.
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use std::fmt::Debug;

use nudge_core::error::Error;

/// A backend failure of `op`: the service error's own short text, or the kind of transport
/// failure (`dispatch failure`, `timeout`, …), with that error as the source.
pub fn store<E, R>(op: &str, err: SdkError<E, R>) -> Error
where
    E: std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => {
            let service = service.into_err();
            Error::store_backend(format!("dynamodb {op}: {service}"), service)
        }
        other => Error::store_backend(format!("dynamodb {op}: {other}"), other),
    }
}

/// A conditional write's answer: true when it was written, false when its condition failed
/// (an expected outcome, not an error).
pub fn written<T, E, R>(op: &str, result: Result<T, SdkError<E, R>>) -> Result<bool, Error>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(store(op, e)),
    }
}

pub fn build(op: &str, err: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::store_backend(format!("dynamodb {op}: building request: {err}"), err)
}

/// Why a transaction was cancelled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// These items (by index in the request) failed their condition.
    Conditions(Vec<usize>),
    /// Another transaction was writing the same items.
    Conflict,
    /// Anything else (throttling, validation, size): a store error with this code.
    Other(String),
}

/// Classifies the per-item reasons of a `TransactionCanceledException` (one reason per request
/// item, code `None` for the items that were fine). Other failures win over conditions (the
/// request must be repaired or retried), conditions over conflicts (they are definite).
pub fn classify(reasons: &[CancellationReason]) -> Cancelled {
    let mut failed = Vec::new();
    let mut conflict = false;
    for (index, reason) in reasons.iter().enumerate() {
        match reason.code() {
            None | Some("None") => {}
            Some("ConditionalCheckFailed") => failed.push(index),
            Some("TransactionConflict") => conflict = true,
            Some(other) => return Cancelled::Other(other.to_string()),
        }
    }
    if !failed.is_empty() {
        Cancelled::Conditions(failed)
    } else if conflict {
        Cancelled::Conflict
    } else {
        Cancelled::Other("cancelled without a reason".into())
    }
}

/// A failed TransactWriteItems: a classified cancellation, or a store error.
pub fn transaction<R>(
    op: &str,
    err: SdkError<TransactWriteItemsError, R>,
) -> Result<Cancelled, Error>
where
    R: Debug + Send + Sync + 'static,
{
    match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(cancel)) => {
            match classify(cancel.cancellation_reasons()) {
                Cancelled::Other(code) => Err(Error::Store(format!(
                    "dynamodb {op}: transaction cancelled: {code}"
                ))),
                cancelled => Ok(cancelled),
            }
        }
        // Another transaction on the same items is in progress: a lost race.
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => Ok(Cancelled::Conflict),
        _ => Err(store(op, err)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(codes: &[Option<&str>]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|code| {
                CancellationReason::builder()
                    .set_code(code.map(str::to_string))
                    .build()
            })
            .collect()
    }

    #[test]
    fn conditions_are_reported_by_item_index() {
        let r = reasons(&[Some("ConditionalCheckFailed"), Some("None"), None]);
        assert_eq!(classify(&r), Cancelled::Conditions(vec![0]));
        let r = reasons(&[
            None,
            Some("ConditionalCheckFailed"),
            Some("ConditionalCheckFailed"),
        ]);
        assert_eq!(classify(&r), Cancelled::Conditions(vec![1, 2]));
    }

    #[test]
    fn conflicts_and_other_failures() {
        let r = reasons(&[Some("None"), Some("TransactionConflict")]);
        assert_eq!(classify(&r), Cancelled::Conflict);
        let r = reasons(&[Some("TransactionConflict"), Some("ConditionalCheckFailed")]);
        assert_eq!(classify(&r), Cancelled::Conditions(vec![1]));
        let r = reasons(&[Some("ConditionalCheckFailed"), Some("ThrottlingError")]);
        assert_eq!(classify(&r), Cancelled::Other("ThrottlingError".into()));
        assert!(matches!(classify(&[]), Cancelled::Other(_)));
    }

    #[test]
    fn service_cancellations_map_to_outcomes_and_short_errors() {
        use aws_sdk_dynamodb::types::error::TransactionCanceledException;
        let cancel = |codes: &[Option<&str>]| {
            let mut e = TransactionCanceledException::builder().message("Transaction cancelled");
            for r in reasons(codes) {
                e = e.cancellation_reasons(r);
            }
            SdkError::<_, ()>::service_error(
                TransactWriteItemsError::TransactionCanceledException(e.build()),
                (),
            )
        };
        assert_eq!(
            transaction(
                "commit_send",
                cancel(&[Some("ConditionalCheckFailed"), None])
            )
            .unwrap(),
            Cancelled::Conditions(vec![0])
        );
        let err = transaction("commit_send", cancel(&[None, Some("ValidationError")])).unwrap_err();
        assert!(
            matches!(&err, Error::Store(m) if m == "dynamodb commit_send: transaction cancelled: ValidationError"),
            "{err}"
        );
    }

    #[test]
    fn a_failed_condition_is_an_answer_other_failures_are_errors() {
        use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
        use aws_sdk_dynamodb::types::error::{
            ConditionalCheckFailedException, ProvisionedThroughputExceededException,
        };
        // As the SDK deserializes it: the code is in the error's metadata.
        let meta = |code: &str| {
            aws_sdk_dynamodb::error::ErrorMetadata::builder()
                .code(code)
                .build()
        };
        let failed = UpdateItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder()
                .message("The conditional request failed")
                .meta(meta("ConditionalCheckFailedException"))
                .build(),
        );
        let result: Result<(), _> = Err(SdkError::<_, ()>::service_error(failed, ()));
        assert!(!written("update_item", result).unwrap());
        assert!(written("update_item", Ok::<_, SdkError<UpdateItemError, ()>>(())).unwrap());
        let throttled = UpdateItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .message("slow down")
                .meta(meta("ProvisionedThroughputExceededException"))
                .build(),
        );
        let result: Result<(), _> = Err(SdkError::<_, ()>::service_error(throttled, ()));
        let err = written("update_item", result).unwrap_err();
        assert!(matches!(err, Error::StoreBackend { .. }), "{err}");
        // The service's own error is kept as the source, for the logs.
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert!(source.is_some_and(|s| s.contains("slow down")), "{err:?}");
    }
}
