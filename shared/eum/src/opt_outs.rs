//! End User Messaging's opt-out list, as an opt-in reply sees it. A number that replied STOP
//! to an AWS-managed number is on the opt-out list of that number (the account's `Default`
//! list unless the number names another), and EUM sends nothing to it until the number is
//! deleted from the list, which EUM allows once every 30 days per number.
use async_trait::async_trait;
use aws_sdk_pinpointsmsvoicev2::operation::delete_opted_out_number::DeleteOptedOutNumberError;
use aws_sdk_pinpointsmsvoicev2::types::ResourceType;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use nudge_aws::provider_error;
use nudge_core::domain::PhoneNumber;
use nudge_core::error::{Error, Result};
use nudge_core::ports::{ProviderOptIn, ProviderOptOuts};

use super::PROVIDER;

/// The opt-out list every number uses unless it was given another.
pub const DEFAULT_OPT_OUT_LIST: &str = "Default";

/// One EUM opt-out list.
#[derive(Clone, Debug)]
pub struct EumOptOutList {
    client: aws_sdk_pinpointsmsvoicev2::Client,
    list: String,
}

impl EumOptOutList {
    pub fn new(client: aws_sdk_pinpointsmsvoicev2::Client, list: impl Into<String>) -> Self {
        EumOptOutList {
            client,
            list: list.into(),
        }
    }
}

#[async_trait]
impl ProviderOptOuts for EumOptOutList {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    /// Deletes the number from the list in one call: EUM answers "not found" for a number
    /// that is not on it, and a conflict for one it will not delete yet.
    async fn opt_in(&self, phone: &PhoneNumber) -> Result<ProviderOptIn> {
        let answer = self
            .client
            .delete_opted_out_number()
            .opt_out_list_name(&self.list)
            .opted_out_number(phone.as_str())
            .send()
            .await;
        let err = match answer {
            Ok(_) => return Ok(ProviderOptIn::OptedIn),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(DeleteOptedOutNumberError::ResourceNotFoundException(missing))
                if missing.resource_type() == Some(&ResourceType::OptOutList) =>
            {
                Err(Error::Config(format!(
                    "eum: opt-out list {} does not exist",
                    self.list
                )))
            }
            Some(DeleteOptedOutNumberError::ResourceNotFoundException(_)) => {
                Ok(ProviderOptIn::NotOptedOut)
            }
            Some(DeleteOptedOutNumberError::ConflictException(conflict)) => {
                Ok(ProviderOptIn::Refused {
                    reason: format!(
                        "End User Messaging did not delete the number from opt-out list {} ({}); it deletes a number once every 30 days",
                        self.list,
                        conflict
                            .reason()
                            .map_or_else(|| conflict.code().unwrap_or("ConflictException").to_string(), |r| r.as_str().to_string())
                    ),
                })
            }
            _ => Err(provider_error(PROVIDER, &err)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aws_sdk_pinpointsmsvoicev2::config::retry::RetryConfig;
    use aws_sdk_pinpointsmsvoicev2::operation::delete_opted_out_number::DeleteOptedOutNumberOutput;
    use aws_sdk_pinpointsmsvoicev2::types::error::{
        ConflictException, ResourceNotFoundException, ThrottlingException,
    };
    use aws_sdk_pinpointsmsvoicev2::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder()
            .code(code)
            .message("answer")
            .build()
    }

    fn phone() -> PhoneNumber {
        PhoneNumber::parse("+14255550156", None).unwrap()
    }

    async fn opt_in_answered(rule: aws_smithy_mocks::Rule) -> Result<ProviderOptIn> {
        let client: Client = mock_client!(
            aws_sdk_pinpointsmsvoicev2,
            RuleMode::Sequential,
            [&rule],
            |c| c.retry_config(RetryConfig::disabled())
        );
        EumOptOutList::new(client, DEFAULT_OPT_OUT_LIST)
            .opt_in(&phone())
            .await
    }

    #[tokio::test]
    async fn a_listed_number_is_deleted_from_the_list_it_is_on() {
        let rule = mock!(Client::delete_opted_out_number)
            .match_requests(|input| {
                input.opt_out_list_name() == Some("Default")
                    && input.opted_out_number() == Some("+14255550156")
            })
            .then_output(|| DeleteOptedOutNumberOutput::builder().build());
        assert_eq!(opt_in_answered(rule).await.unwrap(), ProviderOptIn::OptedIn);
    }

    #[tokio::test]
    async fn a_number_not_on_the_list_needs_nothing() {
        let rule = mock!(Client::delete_opted_out_number).then_error(|| {
            DeleteOptedOutNumberError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .resource_type(ResourceType::OptedOutNumber)
                    .meta(meta("ResourceNotFoundException"))
                    .build(),
            )
        });
        assert_eq!(
            opt_in_answered(rule).await.unwrap(),
            ProviderOptIn::NotOptedOut
        );
    }

    #[tokio::test]
    async fn a_missing_list_is_a_configuration_error() {
        let rule = mock!(Client::delete_opted_out_number).then_error(|| {
            DeleteOptedOutNumberError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .resource_type(ResourceType::OptOutList)
                    .meta(meta("ResourceNotFoundException"))
                    .build(),
            )
        });
        let err = opt_in_answered(rule).await.unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("Default")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_conflict_is_a_refusal_and_throttling_an_error_to_retry() {
        let refused = mock!(Client::delete_opted_out_number).then_error(|| {
            DeleteOptedOutNumberError::ConflictException(
                ConflictException::builder()
                    .meta(meta("ConflictException"))
                    .build(),
            )
        });
        match opt_in_answered(refused).await.unwrap() {
            ProviderOptIn::Refused { reason } => assert!(reason.contains("30 days"), "{reason}"),
            other => panic!("unexpected {other:?}"),
        }
        let throttled = mock!(Client::delete_opted_out_number).then_error(|| {
            DeleteOptedOutNumberError::ThrottlingException(
                ThrottlingException::builder()
                    .meta(meta("ThrottlingException"))
                    .build(),
            )
        });
        assert!(opt_in_answered(throttled).await.unwrap_err().is_retryable());
    }
}
