//! SNS's account opt-out list, as an opt-in reply sees it: a number a customer opted out
//! (by replying STOP to an AWS-managed number, or through the console) stays on the list,
//! and SNS drops every text to it, until `OptInPhoneNumber` takes it off, which SNS allows
//! once every 30 days per number.
use async_trait::async_trait;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use nudge_aws::provider_error;
use nudge_core::domain::PhoneNumber;
use nudge_core::error::Result;
use nudge_core::ports::{ProviderOptIn, ProviderOptOuts};

use super::PROVIDER;

/// The account's SNS opt-out list.
#[derive(Clone, Debug)]
pub struct SnsOptOutList {
    client: aws_sdk_sns::Client,
}

impl SnsOptOutList {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        SnsOptOutList { client }
    }

    async fn is_opted_out(&self, phone: &PhoneNumber) -> Result<bool> {
        let answer = self
            .client
            .check_if_phone_number_is_opted_out()
            .phone_number(phone.as_str())
            .send()
            .await
            .map_err(|err| provider_error(PROVIDER, &err))?;
        Ok(answer.is_opted_out())
    }
}

#[async_trait]
impl ProviderOptOuts for SnsOptOutList {
    fn provider(&self) -> &'static str {
        PROVIDER
    }

    /// Asks first, so that a number SNS does not list never spends its one opt-in of the
    /// month. SNS documents no error of its own for "opted in less than 30 days ago"; it
    /// answers such requests as it answers other bad parameters (`InvalidParameter`), so
    /// that answer is a refusal, while throttling, SNS's own failures and a missing
    /// permission are errors (the first two retried with the reply's redelivery).
    async fn opt_in(&self, phone: &PhoneNumber) -> Result<ProviderOptIn> {
        if !self.is_opted_out(phone).await? {
            return Ok(ProviderOptIn::NotOptedOut);
        }
        match self
            .client
            .opt_in_phone_number()
            .phone_number(phone.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(ProviderOptIn::OptedIn),
            Err(err) => match err.as_service_error() {
                Some(service) if refuses(service.code()) => Ok(ProviderOptIn::Refused {
                    reason: format!(
                        "SNS did not opt the number in ({}); SNS opts a number in only once every 30 days",
                        service.code().unwrap_or("no code")
                    ),
                }),
                _ => Err(provider_error(PROVIDER, &err)),
            },
        }
    }
}

fn refuses(code: Option<&str>) -> bool {
    matches!(code, Some("InvalidParameter" | "InvalidParameterValue"))
}
