//! What nudge's AWS adapters share: loading the SDK configuration and reading a service's
//! error answer (retry or not, opted out or not) without leaking the SDK's Debug text.
mod errors;

pub use errors::{is_opted_out, is_retryable_answer, provider_error, send_error};

use aws_config::{BehaviorVersion, SdkConfig};
use nudge_core::error::{Error, Result};

/// Loads the AWS configuration from the standard sources (`AWS_REGION`, credentials,
/// `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` for emulators). A missing region is a
/// configuration error rather than a failure at the first call.
pub async fn sdk_config() -> Result<SdkConfig> {
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    if sdk.region().is_none() {
        return Err(Error::Config("AWS_REGION is not set".into()));
    }
    Ok(sdk)
}
