//! `SendSms` (API 2021-01-11): one text to one number from an approved template.
//!
//! Tencent sends only templates approved in its console, under an approved signature (in
//! Chinese for mainland numbers). So a text needs its rule's `gateway_template`, and the
//! signature is the deployment's `SignName`: a tenant's `sender:` id is an alphanumeric sender
//! id, which cannot name such a signature, and is not used.
use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use crate::codes::send_error;
use crate::sign::{sign, SigningInput, CONTENT_TYPE};
use crate::PROVIDER;
use nudge_core::error::Error;
use nudge_core::ports::{OutgoingText, SendError, Sent, SmsSender};

pub const ENDPOINT: &str = "https://sms.tencentcloudapi.com";
pub const SERVICE: &str = "sms";
pub const ACTION: &str = "SendSms";
pub const VERSION: &str = "2021-01-11";
pub const DEFAULT_REGION: &str = "ap-guangzhou";
/// How long one call may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read: one number's status is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The account and app a deployment sends with, from its flags or environment.
#[derive(Clone)]
pub struct TencentConfig {
    pub secret_id: String,
    pub secret_key: String,
    /// The SMS app (`SmsSdkAppId`, e.g. `1400006666`).
    pub sms_sdk_app_id: String,
    /// The approved signature (`SignName`) every text goes out under.
    pub sign_name: String,
    pub region: String,
    /// Scheme and host of the API: [`ENDPOINT`]; tests point it at a local server.
    pub endpoint: String,
    pub timeout: Duration,
}

impl TencentConfig {
    pub fn new(
        secret_id: impl Into<String>,
        secret_key: impl Into<String>,
        sms_sdk_app_id: impl Into<String>,
        sign_name: impl Into<String>,
    ) -> Self {
        TencentConfig {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            sms_sdk_app_id: sms_sdk_app_id.into(),
            sign_name: sign_name.into(),
            region: DEFAULT_REGION.into(),
            endpoint: ENDPOINT.into(),
            timeout: REQUEST_TIMEOUT,
        }
    }
}

/// Never shows the secret key.
impl std::fmt::Debug for TencentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TencentConfig")
            .field("secret_id", &self.secret_id)
            .field("sms_sdk_app_id", &self.sms_sdk_app_id)
            .field("sign_name", &self.sign_name)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Sends texts with Tencent Cloud SMS, over one pooled HTTPS client.
#[derive(Clone, Debug)]
pub struct TencentSender {
    config: TencentConfig,
    uri: http::Uri,
    host: String,
    client: HttpsClient,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendSmsRequest<'a> {
    phone_number_set: [&'a str; 1],
    sms_sdk_app_id: &'a str,
    sign_name: &'a str,
    template_id: &'a str,
    template_param_set: &'a [String],
    /// Echoed back by Tencent: which tenant's which message this is.
    session_context: String,
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Answer,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    #[serde(default)]
    error: Option<ApiError>,
    #[serde(default)]
    send_status_set: Vec<SendStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ApiError {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SendStatus {
    #[serde(default)]
    serial_no: String,
    code: String,
    #[serde(default)]
    message: String,
}

fn config_error(message: impl Into<String>) -> SendError {
    SendError::Local(Error::Config(message.into()))
}

impl TencentSender {
    /// Fails when the endpoint is not a URL with a host, or the system's root certificates
    /// cannot be loaded.
    pub fn new(config: TencentConfig) -> Result<Self, Error> {
        let uri: http::Uri = format!("{}/", config.endpoint.trim_end_matches('/'))
            .parse()
            .map_err(|_| {
                Error::Config(format!("tencent: invalid endpoint {:?}", config.endpoint))
            })?;
        let host = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| {
                Error::Config(format!(
                    "tencent: endpoint {:?} has no host",
                    config.endpoint
                ))
            })?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|err| Error::Config(format!("tencent: no root certificates: {err}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(TencentSender {
            config,
            uri,
            host,
            client,
        })
    }

    /// The JSON body of one text; a text without a template cannot be sent.
    fn body(&self, text: &OutgoingText<'_>) -> Result<Vec<u8>, SendError> {
        let template = text.template.ok_or_else(|| {
            SendError::permanent(
                "tencent sends only approved templates: the rule needs a gateway_template \
                 (id and params)",
            )
        })?;
        let request = SendSmsRequest {
            phone_number_set: [text.to.as_str()],
            sms_sdk_app_id: &self.config.sms_sdk_app_id,
            sign_name: &self.config.sign_name,
            template_id: &template.id,
            template_param_set: &template.params,
            session_context: format!("{}:{}", text.tenant, text.message_id),
        };
        serde_json::to_vec(&request)
            .map_err(|err| config_error(format!("tencent: request unwritable: {err}")))
    }

    fn request(
        &self,
        body: Vec<u8>,
        timestamp: i64,
    ) -> Result<http::Request<Full<Bytes>>, SendError> {
        let signed = sign(&SigningInput {
            secret_id: &self.config.secret_id,
            secret_key: &self.config.secret_key,
            service: SERVICE,
            host: &self.host,
            timestamp,
            payload: &body,
        });
        http::Request::post(self.uri.clone())
            .header(http::header::HOST, &self.host)
            .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(http::header::AUTHORIZATION, signed.authorization)
            .header("X-TC-Action", ACTION)
            .header("X-TC-Timestamp", timestamp.to_string())
            .header("X-TC-Version", VERSION)
            .header("X-TC-Region", &self.config.region)
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| config_error("tencent: invalid request header (region or credentials)"))
    }

    async fn call(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<(http::StatusCode, Bytes), SendError> {
        let exchange = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|err| SendError::Retryable {
                        message: format!("{PROVIDER}: request failed"),
                        source: Some(Box::new(err)),
                    })?;
            let status = response.status();
            let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|err| SendError::Retryable {
                    message: format!("{PROVIDER}: answer unreadable"),
                    source: Some(err),
                })?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(self.config.timeout, exchange)
            .await
            .map_err(|_| {
                SendError::retryable(format!(
                    "{PROVIDER}: no answer within {:?}",
                    self.config.timeout
                ))
            })?
    }
}

/// Reads an answer: an API error, else the one number's status.
fn outcome(status: http::StatusCode, body: &[u8]) -> Result<Sent, SendError> {
    let answer = match serde_json::from_slice::<Envelope>(body) {
        Ok(envelope) => envelope.response,
        // API 3.0 answers 200 with a JSON error; anything else is a gateway or proxy in between.
        Err(_) if status.is_server_error() || status == http::StatusCode::TOO_MANY_REQUESTS => {
            return Err(SendError::retryable(format!("{PROVIDER}: HTTP {status}")));
        }
        Err(_) => {
            return Err(SendError::permanent(format!(
                "{PROVIDER}: HTTP {status} with an answer that is not SendSms's"
            )))
        }
    };
    if let Some(error) = answer.error {
        return Err(send_error(&error.code, &error.message));
    }
    let status = answer.send_status_set.into_iter().next().ok_or_else(|| {
        SendError::permanent(format!("{PROVIDER}: no SendStatusSet in the answer"))
    })?;
    if status.code != "Ok" {
        return Err(send_error(&status.code, &status.message));
    }
    if status.serial_no.trim().is_empty() {
        return Err(SendError::permanent(format!(
            "{PROVIDER}: no SerialNo in the answer"
        )));
    }
    Ok(Sent {
        provider: PROVIDER,
        provider_id: status.serial_no,
    })
}

#[async_trait]
impl SmsSender for TencentSender {
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError> {
        let body = self.body(text)?;
        let request = self.request(body, chrono::Utc::now().timestamp())?;
        let (status, answer) = self.call(request).await?;
        outcome(status, &answer)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_success_gives_the_serial_number() {
        let body = br#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8618511122233","Fee":1,"SessionContext":"test","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}"#;
        let sent = outcome(http::StatusCode::OK, body).unwrap();
        assert_eq!(sent.provider, "tencent");
        assert_eq!(sent.provider_id, "5000:1045710669157053657849499619");
    }

    #[test]
    fn errors_of_the_call_and_of_the_number_are_classified() {
        let api = br#"{"Response":{"Error":{"Code":"AuthFailure.SignatureFailure","Message":"The provided credentials could not be validated."},"RequestId":"x"}}"#;
        assert!(matches!(
            outcome(http::StatusCode::OK, api),
            Err(SendError::Permanent { .. })
        ));
        let number = br#"{"Response":{"SendStatusSet":[{"SerialNo":"","PhoneNumber":"+86185","Fee":0,"SessionContext":"","Code":"InvalidParameterValue.IncorrectPhoneNumber","Message":"bad number","IsoCode":"CN"}],"RequestId":"x"}}"#;
        assert!(matches!(
            outcome(http::StatusCode::OK, number),
            Err(SendError::InvalidNumber { .. })
        ));
        assert!(matches!(
            outcome(http::StatusCode::BAD_GATEWAY, b"<html>"),
            Err(SendError::Retryable { .. })
        ));
        assert!(matches!(
            outcome(http::StatusCode::OK, br#"{"Response":{"RequestId":"x"}}"#),
            Err(SendError::Permanent { .. })
        ));
    }
}
