//! The second AWS SMS sender: AWS End User Messaging SMS (`pinpoint-sms-voice-v2`)
//! `SendTextMessage`, and the delivery events its configuration set publishes ([`receipts`]).
//!
//! Unlike SNS, EUM refuses a text to a number on the account's opt-out list with an error
//! (`ConflictException`, reason `DESTINATION_PHONE_NUMBER_OPTED_OUT`), so no check before each
//! text is needed; it sends from pools as well as numbers and sender ids; and it reports
//! every text's outcome as events of the configuration set named in the request, which is
//! how receipts reach nudge.
mod opt_outs;
pub mod receipts;

pub use opt_outs::{EumOptOutList, DEFAULT_OPT_OUT_LIST};

use async_trait::async_trait;
use aws_sdk_pinpointsmsvoicev2::config::http::HttpResponse;
use aws_sdk_pinpointsmsvoicev2::error::SdkError;
use aws_sdk_pinpointsmsvoicev2::operation::send_text_message::SendTextMessageError;
use aws_sdk_pinpointsmsvoicev2::types::error::ValidationException;
use aws_sdk_pinpointsmsvoicev2::types::{
    ConflictExceptionReason, MessageType, ServiceQuotaExceededExceptionReason,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use nudge_aws::send_error;
use nudge_core::domain::{Category, Origination};
use nudge_core::ports::{OutgoingText, SendError, Sent, SmsSender};

/// The provider name receipts of EUM texts carry.
pub const PROVIDER: &str = "eum";

/// The keys of the `Context` every text carries; EUM echoes them in the text's events.
pub const CONTEXT_TENANT: &str = "tenant";
pub const CONTEXT_MESSAGE_ID: &str = "message_id";

/// What a deployment sends every EUM text with. Empty strings count as unset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EumSettings {
    /// The configuration set whose event destination publishes the texts' delivery events;
    /// without one EUM sends but reports nothing, and texts never get a receipt.
    pub configuration_set: Option<String>,
    /// The identity (phone number, pool, sender id, or their id or ARN) of texts whose tenant
    /// names no `sender:`; None lets EUM choose one of the account's identities.
    pub origination_identity: Option<String>,
    /// The most (USD) one text may cost, e.g. `"0.50"`: EUM refuses a dearer text.
    pub max_price: Option<String>,
    /// How long EUM keeps trying to hand a care or marketing text to the carrier, in seconds.
    /// Transactional texts keep EUM's default (72 h): a late code still beats none.
    pub time_to_live_seconds: Option<u32>,
}

/// Sends texts with EUM. Transactional texts go as `TRANSACTIONAL`, care and marketing as
/// `PROMOTIONAL` (EUM routes and, in some countries, prices the two differently).
#[derive(Clone, Debug)]
pub struct EumSender {
    client: aws_sdk_pinpointsmsvoicev2::Client,
    settings: EumSettings,
}

/// The EUM message type for a category.
pub fn message_type(category: Category) -> MessageType {
    match category {
        Category::Transactional => MessageType::Transactional,
        Category::Care | Category::Marketing => MessageType::Promotional,
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl EumSender {
    pub fn new(client: aws_sdk_pinpointsmsvoicev2::Client, settings: EumSettings) -> Self {
        EumSender {
            client,
            settings: EumSettings {
                configuration_set: non_empty(settings.configuration_set),
                origination_identity: non_empty(settings.origination_identity),
                max_price: non_empty(settings.max_price),
                time_to_live_seconds: settings.time_to_live_seconds,
            },
        }
    }

    /// Who a text comes from: the tenant's number, pool or sender id as EUM names it
    /// (EUM takes any of them as `OriginationIdentity`), else the deployment's default.
    pub fn origination_identity<'a>(
        &'a self,
        origination: Option<&'a Origination>,
    ) -> Option<&'a str> {
        origination
            .map(Origination::value)
            .or(self.settings.origination_identity.as_deref())
    }

    /// The time to live of a text of `category`, in seconds.
    pub fn time_to_live(&self, category: Category) -> Option<i32> {
        match category {
            Category::Transactional => None,
            Category::Care | Category::Marketing => self
                .settings
                .time_to_live_seconds
                .and_then(|s| i32::try_from(s).ok()),
        }
    }
}

/// What a refusal of EUM's means to the outbox, read from the modelled error and its reason
/// (codes alone are too coarse: a `ConflictException` is an opt-out or a misconfiguration).
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    OptedOut,
    SpendLimit,
    InvalidNumber,
    Retryable,
    /// Whatever `send_error` decides (permanent, or retryable by status).
    Other,
}

fn refusal(error: &SendTextMessageError) -> Refusal {
    match error {
        SendTextMessageError::ConflictException(e)
            if e.reason() == Some(&ConflictExceptionReason::DestinationPhoneNumberOptedOut) =>
        {
            Refusal::OptedOut
        }
        SendTextMessageError::ServiceQuotaExceededException(e)
            if e.reason()
                == Some(&ServiceQuotaExceededExceptionReason::MonthlySpendLimitReachedForText) =>
        {
            Refusal::SpendLimit
        }
        SendTextMessageError::ValidationException(e) if about_destination(e) => {
            Refusal::InvalidNumber
        }
        SendTextMessageError::ThrottlingException(_)
        | SendTextMessageError::InternalServerException(_) => Refusal::Retryable,
        _ => Refusal::Other,
    }
}

/// Whether a validation error is about the destination number: EUM names the field that
/// failed (`DestinationPhoneNumber`), or at least mentions it in its message. Validation
/// errors about anything else (the body, the identity, the price) are the request's fault.
fn about_destination(error: &ValidationException) -> bool {
    let names_it = |text: &str| {
        let lower = text.to_ascii_lowercase();
        lower.contains("destinationphonenumber") || lower.contains("destination phone number")
    };
    error.fields().iter().any(|field| names_it(field.name()))
        || error.message().is_some_and(names_it)
}

/// The short words of an error: its code and, where EUM gives one, its reason
/// (`eum: ServiceQuotaExceededException MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT`).
fn describe(error: &SendTextMessageError) -> String {
    // The modelled variant names its code even when the answer carried no metadata.
    let code = match error {
        SendTextMessageError::AccessDeniedException(_) => "AccessDeniedException",
        SendTextMessageError::ConflictException(_) => "ConflictException",
        SendTextMessageError::InternalServerException(_) => "InternalServerException",
        SendTextMessageError::ResourceNotFoundException(_) => "ResourceNotFoundException",
        SendTextMessageError::ServiceQuotaExceededException(_) => "ServiceQuotaExceededException",
        SendTextMessageError::ThrottlingException(_) => "ThrottlingException",
        SendTextMessageError::ValidationException(_) => "ValidationException",
        other => other.code().unwrap_or("error"),
    };
    let reason = match error {
        SendTextMessageError::ServiceQuotaExceededException(e) => e.reason().map(|r| r.as_str()),
        SendTextMessageError::ValidationException(e) => e.reason().map(|r| r.as_str()),
        SendTextMessageError::ConflictException(e) => e.reason().map(|r| r.as_str()),
        _ => None,
    };
    match reason {
        Some(reason) => format!("{PROVIDER}: {code} {reason}"),
        None => format!("{PROVIDER}: {code}"),
    }
}

/// Maps a failed `SendTextMessage` to the [`SendError`] the outbox acts on, keeping the
/// service's error as the source (its Display, never the SDK's Debug, reaches the logs).
pub fn send_failure(err: SdkError<SendTextMessageError, HttpResponse>) -> SendError {
    let Some(service) = err.as_service_error() else {
        return send_error(PROVIDER, &err);
    };
    let message = describe(service);
    match refusal(service) {
        Refusal::OptedOut => SendError::OptedOut {
            provider: PROVIDER.into(),
        },
        Refusal::SpendLimit => SendError::SpendLimitReached {
            message,
            source: Some(Box::new(err.into_service_error())),
        },
        Refusal::InvalidNumber => SendError::InvalidNumber {
            message,
            source: Some(Box::new(err.into_service_error())),
        },
        Refusal::Retryable => SendError::Retryable {
            message,
            source: Some(Box::new(err.into_service_error())),
        },
        Refusal::Other => match send_error(PROVIDER, &err) {
            // `send_error` reads the code from the answer's metadata; say the modelled one.
            SendError::Permanent { source, .. } => SendError::Permanent { message, source },
            other => other,
        },
    }
}

#[async_trait]
impl SmsSender for EumSender {
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError> {
        let output = self
            .client
            .send_text_message()
            .destination_phone_number(text.to.as_str())
            .set_origination_identity(
                self.origination_identity(text.origination)
                    .map(str::to_string),
            )
            .message_body(text.text)
            .message_type(message_type(text.category))
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .set_max_price(self.settings.max_price.clone())
            .set_time_to_live(self.time_to_live(text.category))
            .context(CONTEXT_TENANT, text.tenant.as_str())
            .context(CONTEXT_MESSAGE_ID, text.message_id.as_str())
            .send()
            .await
            .map_err(send_failure)?;
        let provider_id = output
            .message_id()
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| SendError::permanent("eum: no message id in the answer"))?;
        Ok(Sent {
            provider: PROVIDER,
            provider_id: provider_id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use aws_sdk_pinpointsmsvoicev2::config::retry::RetryConfig;
    use aws_sdk_pinpointsmsvoicev2::operation::send_text_message::{
        SendTextMessageInput, SendTextMessageOutput,
    };
    use aws_sdk_pinpointsmsvoicev2::types::error::{
        AccessDeniedException, ConflictException, InternalServerException,
        ResourceNotFoundException, ServiceQuotaExceededException, ThrottlingException,
    };
    use aws_sdk_pinpointsmsvoicev2::types::{ValidationExceptionField, ValidationExceptionReason};
    use aws_sdk_pinpointsmsvoicev2::Client;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
    use aws_smithy_types::error::ErrorMetadata;
    use nudge_core::domain::{MessageId, PhoneNumber, TenantId};
    use std::sync::{Arc, Mutex};

    struct Text {
        tenant: TenantId,
        id: MessageId,
        to: PhoneNumber,
    }

    fn text() -> Text {
        Text {
            tenant: TenantId::parse("acme").unwrap(),
            id: MessageId::parse("m-42").unwrap(),
            to: PhoneNumber::parse("+14255550156", None).unwrap(),
        }
    }

    impl Text {
        fn outgoing<'a>(
            &'a self,
            category: Category,
            origination: Option<&'a Origination>,
        ) -> OutgoingText<'a> {
            OutgoingText {
                tenant: &self.tenant,
                message_id: &self.id,
                to: &self.to,
                text: "Your code is 1234",
                category,
                segments: 1,
                origination,
                template: None,
            }
        }
    }

    fn sender(rules: &[&Rule], settings: EumSettings) -> EumSender {
        // No SDK retries: each rule answers exactly one call, and the outbox does the retrying.
        let client: Client = mock_client!(
            aws_sdk_pinpointsmsvoicev2,
            RuleMode::Sequential,
            rules,
            |c| c.retry_config(RetryConfig::disabled())
        );
        EumSender::new(client, settings)
    }

    /// A sender that accepts every text, and the requests it made.
    fn recording(settings: EumSettings) -> (EumSender, Arc<Mutex<Vec<SendTextMessageInput>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let rule = mock!(Client::send_text_message).then_compute_output(move |input| {
            log.lock().unwrap().push(input.clone());
            SendTextMessageOutput::builder()
                .message_id("862a8790-60c0-4430-9b2b-658bdexample")
                .build()
        });
        let client: Client = mock_client!(aws_sdk_pinpointsmsvoicev2, RuleMode::MatchAny, [&rule]);
        (EumSender::new(client, settings), seen)
    }

    fn deployment() -> EumSettings {
        EumSettings {
            configuration_set: Some("nudge-events".into()),
            origination_identity: Some("pool-default".into()),
            max_price: Some("0.50".into()),
            time_to_live_seconds: Some(3600),
        }
    }

    #[tokio::test]
    async fn a_transactional_text_sends_every_field_and_no_time_to_live() {
        let (sender, seen) = recording(deployment());
        let t = text();
        let sent = sender
            .send(&t.outgoing(Category::Transactional, None))
            .await
            .unwrap();
        assert_eq!(
            sent,
            Sent {
                provider: "eum",
                provider_id: "862a8790-60c0-4430-9b2b-658bdexample".into()
            }
        );
        let request = seen.lock().unwrap().pop().unwrap();
        assert_eq!(request.destination_phone_number(), Some("+14255550156"));
        assert_eq!(request.message_body(), Some("Your code is 1234"));
        assert_eq!(request.message_type(), Some(&MessageType::Transactional));
        assert_eq!(request.origination_identity(), Some("pool-default"));
        assert_eq!(request.configuration_set_name(), Some("nudge-events"));
        assert_eq!(request.max_price(), Some("0.50"));
        assert_eq!(request.time_to_live(), None);
        let context = request.context().unwrap();
        assert_eq!(context.len(), 2);
        assert_eq!(context["tenant"], "acme");
        assert_eq!(context["message_id"], "m-42");
    }

    #[tokio::test]
    async fn care_and_marketing_go_promotional_with_the_time_to_live() {
        let (sender, seen) = recording(deployment());
        let t = text();
        for category in [Category::Care, Category::Marketing] {
            sender.send(&t.outgoing(category, None)).await.unwrap();
            let request = seen.lock().unwrap().pop().unwrap();
            assert_eq!(request.message_type(), Some(&MessageType::Promotional));
            assert_eq!(request.time_to_live(), Some(3600));
        }
    }

    #[tokio::test]
    async fn a_tenants_sender_replaces_the_default_identity() {
        let (sender, seen) = recording(deployment());
        let t = text();
        let number = Origination::Number(PhoneNumber::parse("+18335550100", None).unwrap());
        let pool =
            Origination::Pool("arn:aws:sms-voice:us-east-1:111122223333:pool/pool-abc".into());
        let sender_id = Origination::SenderId("ACME".into());
        for (origination, identity) in [
            (&number, "+18335550100"),
            (
                &pool,
                "arn:aws:sms-voice:us-east-1:111122223333:pool/pool-abc",
            ),
            (&sender_id, "ACME"),
        ] {
            sender
                .send(&t.outgoing(Category::Care, Some(origination)))
                .await
                .unwrap();
            let request = seen.lock().unwrap().pop().unwrap();
            assert_eq!(request.origination_identity(), Some(identity));
        }
    }

    #[tokio::test]
    async fn unset_and_empty_settings_leave_their_fields_out() {
        let (sender, seen) = recording(EumSettings {
            configuration_set: Some(" ".into()),
            origination_identity: Some(String::new()),
            max_price: None,
            time_to_live_seconds: None,
        });
        let t = text();
        sender
            .send(&t.outgoing(Category::Marketing, None))
            .await
            .unwrap();
        let request = seen.lock().unwrap().pop().unwrap();
        assert_eq!(request.origination_identity(), None);
        assert_eq!(request.configuration_set_name(), None);
        assert_eq!(request.max_price(), None);
        assert_eq!(request.time_to_live(), None);
        assert_eq!(request.context().unwrap()["tenant"], "acme");
    }

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder()
            .code(code)
            .message("refused")
            .build()
    }

    async fn answer(error: fn() -> SendTextMessageError) -> SendError {
        let rule = mock!(Client::send_text_message).then_error(error);
        let sender = sender(&[&rule], deployment());
        let t = text();
        let err = sender
            .send(&t.outgoing(Category::Care, None))
            .await
            .unwrap_err();
        assert_eq!(rule.num_calls(), 1);
        err
    }

    #[tokio::test]
    async fn an_opted_out_destination_is_opted_out() {
        let err = answer(|| {
            SendTextMessageError::ConflictException(
                ConflictException::builder()
                    .reason(ConflictExceptionReason::DestinationPhoneNumberOptedOut)
                    .message("The destination phone number is opted out")
                    .meta(meta("ConflictException"))
                    .build(),
            )
        })
        .await;
        assert!(matches!(err, SendError::OptedOut { provider } if provider == "eum"));
        // Any other conflict is the deployment's to fix.
        let err = answer(|| {
            SendTextMessageError::ConflictException(
                ConflictException::builder()
                    .reason(ConflictExceptionReason::ResourceNotActive)
                    .meta(meta("ConflictException"))
                    .build(),
            )
        })
        .await;
        assert!(
            matches!(&err, SendError::Permanent { message, .. } if message == "eum: ConflictException RESOURCE_NOT_ACTIVE"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn the_monthly_text_spend_limit_pauses_sending_other_quotas_do_not() {
        let err = answer(|| {
            SendTextMessageError::ServiceQuotaExceededException(
                ServiceQuotaExceededException::builder()
                    .reason(ServiceQuotaExceededExceptionReason::MonthlySpendLimitReachedForText)
                    .meta(meta("ServiceQuotaExceededException"))
                    .build(),
            )
        })
        .await;
        match err {
            SendError::SpendLimitReached { message, source } => {
                assert_eq!(
                    message,
                    "eum: ServiceQuotaExceededException MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"
                );
                assert!(source.is_some(), "the service's error is kept");
            }
            other => panic!("{other:?}"),
        }
        let err = answer(|| {
            SendTextMessageError::ServiceQuotaExceededException(
                ServiceQuotaExceededException::builder()
                    .reason(ServiceQuotaExceededExceptionReason::MonthlySpendLimitReachedForVoice)
                    .meta(meta("ServiceQuotaExceededException"))
                    .build(),
            )
        })
        .await;
        assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_validation_error_about_the_destination_is_an_invalid_number() {
        let err = answer(|| {
            SendTextMessageError::ValidationException(
                ValidationException::builder()
                    .reason(ValidationExceptionReason::InvalidParameter)
                    .fields(
                        ValidationExceptionField::builder()
                            .name("DestinationPhoneNumber")
                            .message("not a valid E.164 number")
                            .build()
                            .unwrap(),
                    )
                    .meta(meta("ValidationException"))
                    .build(),
            )
        })
        .await;
        assert!(
            matches!(&err, SendError::InvalidNumber { message, source: Some(_) } if message == "eum: ValidationException INVALID_PARAMETER"),
            "{err:?}"
        );
        let err = answer(|| {
            SendTextMessageError::ValidationException(
                ValidationException::builder()
                    .reason(ValidationExceptionReason::PriceOverThreshold)
                    .message("The price of the message exceeds MaxPrice")
                    .meta(meta("ValidationException"))
                    .build(),
            )
        })
        .await;
        assert!(
            matches!(&err, SendError::Permanent { message, .. } if message == "eum: ValidationException PRICE_OVER_THRESHOLD"),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn throttling_and_internal_errors_are_retried() {
        let err = answer(|| {
            SendTextMessageError::ThrottlingException(
                ThrottlingException::builder()
                    .meta(meta("ThrottlingException"))
                    .build(),
            )
        })
        .await;
        assert!(
            matches!(&err, SendError::Retryable { message, .. } if message == "eum: ThrottlingException"),
            "{err:?}"
        );
        let err = answer(|| {
            SendTextMessageError::InternalServerException(
                InternalServerException::builder()
                    .meta(meta("InternalServerException"))
                    .build(),
            )
        })
        .await;
        assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn access_and_missing_resources_fail_the_text() {
        let err = answer(|| {
            SendTextMessageError::AccessDeniedException(
                AccessDeniedException::builder()
                    .meta(meta("AccessDeniedException"))
                    .build(),
            )
        })
        .await;
        assert!(
            matches!(&err, SendError::Permanent { message, source: Some(_) } if message == "eum: AccessDeniedException"),
            "{err:?}"
        );
        let err = answer(|| {
            SendTextMessageError::ResourceNotFoundException(
                ResourceNotFoundException::builder()
                    .meta(meta("ResourceNotFoundException"))
                    .build(),
            )
        })
        .await;
        assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_server_error_without_a_modelled_answer_is_retried() {
        let rule = mock!(Client::send_text_message)
            .sequence()
            .http_status(503, None)
            .build();
        let sender = sender(&[&rule], deployment());
        let t = text();
        let err = sender
            .send(&t.outgoing(Category::Care, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Retryable { .. }), "{err:?}");
    }

    #[test]
    fn timeouts_are_retried() {
        let err: SdkError<SendTextMessageError, HttpResponse> =
            SdkError::timeout_error("no answer in time");
        assert!(matches!(send_failure(err), SendError::Retryable { .. }));
    }

    #[tokio::test]
    async fn an_answer_without_a_message_id_fails_the_text() {
        let rule = mock!(Client::send_text_message)
            .then_output(|| SendTextMessageOutput::builder().build());
        let sender = sender(&[&rule], deployment());
        let t = text();
        let err = sender
            .send(&t.outgoing(Category::Care, None))
            .await
            .unwrap_err();
        assert!(matches!(err, SendError::Permanent { .. }), "{err:?}");
    }

    #[test]
    fn messages_say_the_code_and_reason_not_the_services_words() {
        let error = SendTextMessageError::ValidationException(
            ValidationException::builder()
                .reason(ValidationExceptionReason::CannotParse)
                .message("secret-ish detail")
                .build(),
        );
        assert_eq!(describe(&error), "eum: ValidationException CANNOT_PARSE");
    }
}
