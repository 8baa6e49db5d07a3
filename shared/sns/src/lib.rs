//! The production SMS sender: Amazon SNS `Publish` to a phone number.
//!
//! SNS accepts a `Publish` to a number on the account's opt-out list and delivers nothing,
//! with no error. So before each text the sender asks SNS whether the number opted out
//! (`CheckIfPhoneNumberIsOptedOut`) and, if it did, refuses the text as opted out; the
//! outbox then suppresses the number in nudge too. (The delivery-status logs, where the
//! stack enables them, report such texts as well.)
mod opt_outs;
pub mod receipts;

pub use opt_outs::SnsOptOutList;

use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use nudge_aws::send_error;
use nudge_core::domain::{Category, Origination};
use nudge_core::error::Error;
use nudge_core::ports::{OutgoingText, SendError, Sent, SmsSender};

pub const ATTR_SMS_TYPE: &str = "AWS.SNS.SMS.SMSType";
pub const ATTR_SENDER_ID: &str = "AWS.SNS.SMS.SenderID";
pub const ATTR_MAX_PRICE: &str = "AWS.SNS.SMS.MaxPrice";
pub const ATTR_ORIGINATION_NUMBER: &str = "AWS.MM.SMS.OriginationNumber";

/// The provider name receipts of SNS texts carry.
pub const PROVIDER: &str = "sns";

/// Sends texts with SNS. Transactional texts go as `Transactional` (higher delivery priority),
/// care and marketing as `Promotional`.
#[derive(Clone, Debug)]
pub struct SnsSender {
    client: aws_sdk_sns::Client,
    sender_id: Option<String>,
    max_price: Option<String>,
    check_opt_out: bool,
}

/// The SNS SMS type for a category.
pub fn sms_type(category: Category) -> &'static str {
    match category {
        Category::Transactional => "Transactional",
        Category::Care | Category::Marketing => "Promotional",
    }
}

/// Whether SNS can send from an origination identity: a number or a sender id, not an EUM
/// pool (SNS has no pool parameter). Checked when the send function starts, per rulebook.
pub fn supports(origination: &Origination) -> Result<(), String> {
    match origination {
        Origination::Number(_) | Origination::SenderId(_) => Ok(()),
        Origination::Pool(pool) => Err(format!(
            "SNS cannot send from pool {pool}; use a number or a sender id, or the EUM sender"
        )),
    }
}

impl SnsSender {
    /// `sender_id`: the deployment's default alphanumeric sender id (a tenant's `sender:`
    /// overrides it); `max_price`: the most (USD) one text may cost, e.g. `"0.50"`. Empty
    /// strings count as unset.
    pub fn new(
        client: aws_sdk_sns::Client,
        sender_id: Option<String>,
        max_price: Option<String>,
    ) -> Self {
        SnsSender {
            client,
            sender_id: sender_id.filter(|s| !s.trim().is_empty()),
            max_price: max_price.filter(|s| !s.trim().is_empty()),
            check_opt_out: true,
        }
    }

    /// Whether to ask SNS about the account's opt-out list before each text (default on; one
    /// more call per text, within SNS's own rate for that call).
    pub fn checking_opt_outs(mut self, check: bool) -> Self {
        self.check_opt_out = check;
        self
    }

    /// The message attributes of one text (name, SNS data type, value), in a stable order.
    /// The price cap is a `Number`, as AWS documents it; the others are `String`s. A tenant's
    /// number goes as the origination number, its sender id instead of the default one.
    pub fn attributes(
        &self,
        category: Category,
        origination: Option<&Origination>,
    ) -> Result<Vec<(&'static str, &'static str, String)>, String> {
        let mut attributes = vec![(ATTR_SMS_TYPE, "String", sms_type(category).to_string())];
        let sender_id = match origination {
            Some(Origination::SenderId(id)) => Some(id.clone()),
            Some(origination) => {
                supports(origination)?;
                attributes.push((
                    ATTR_ORIGINATION_NUMBER,
                    "String",
                    origination.value().to_string(),
                ));
                None
            }
            None => self.sender_id.clone(),
        };
        if let Some(id) = sender_id {
            attributes.push((ATTR_SENDER_ID, "String", id));
        }
        if let Some(price) = &self.max_price {
            attributes.push((ATTR_MAX_PRICE, "Number", price.clone()));
        }
        Ok(attributes)
    }

    async fn opted_out(&self, number: &str) -> Result<bool, SendError> {
        let answer = self
            .client
            .check_if_phone_number_is_opted_out()
            .phone_number(number)
            .send()
            .await
            .map_err(|err| send_error(PROVIDER, &err))?;
        Ok(answer.is_opted_out())
    }
}

fn attribute(data_type: &str, value: String) -> Result<MessageAttributeValue, SendError> {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .map_err(|_| SendError::Local(Error::Config("sns: invalid message attribute".into())))
}

/// SNS answers `InvalidParameter` for many things; one that names the phone number is about
/// the destination.
fn invalid_number(code: Option<&str>, message: Option<&str>) -> bool {
    matches!(code, Some("InvalidParameter" | "InvalidParameterValue"))
        && message.is_some_and(|m| m.contains("PhoneNumber"))
}

#[async_trait]
impl SmsSender for SnsSender {
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError> {
        let number = text.to.as_str();
        if self.check_opt_out && self.opted_out(number).await? {
            return Err(SendError::OptedOut {
                provider: PROVIDER.into(),
            });
        }
        let attributes = self
            .attributes(text.category, text.origination)
            .map_err(SendError::permanent)?;
        let mut request = self
            .client
            .publish()
            .phone_number(number)
            .message(text.text);
        for (name, data_type, value) in attributes {
            request = request.message_attributes(name, attribute(data_type, value)?);
        }
        let output = request.send().await.map_err(|err| {
            if let Some(service) = err.as_service_error() {
                if invalid_number(service.code(), service.message()) {
                    return SendError::InvalidNumber {
                        message: format!("{PROVIDER}: invalid phone number"),
                        source: None,
                    };
                }
            }
            send_error(PROVIDER, &err)
        })?;
        let provider_id = output
            .message_id()
            .ok_or_else(|| SendError::permanent("sns: no message id in the answer"))?;
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

    fn client() -> aws_sdk_sns::Client {
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .build();
        aws_sdk_sns::Client::from_conf(config)
    }

    #[test]
    fn categories_map_to_sms_types() {
        assert_eq!(sms_type(Category::Transactional), "Transactional");
        assert_eq!(sms_type(Category::Care), "Promotional");
        assert_eq!(sms_type(Category::Marketing), "Promotional");
    }

    #[test]
    fn optional_attributes_only_when_configured() {
        let plain = SnsSender::new(client(), None, Some(" ".into()));
        assert_eq!(
            plain.attributes(Category::Care, None).unwrap(),
            vec![(ATTR_SMS_TYPE, "String", "Promotional".to_string())]
        );
        let full = SnsSender::new(client(), Some("ACME".into()), Some("0.50".into()));
        assert_eq!(
            full.attributes(Category::Transactional, None).unwrap(),
            vec![
                (ATTR_SMS_TYPE, "String", "Transactional".to_string()),
                (ATTR_SENDER_ID, "String", "ACME".to_string()),
                (ATTR_MAX_PRICE, "Number", "0.50".to_string()),
            ]
        );
    }

    #[test]
    fn a_tenants_sender_replaces_the_default_sender_id() {
        let sender = SnsSender::new(client(), Some("ACME".into()), None);
        let number = Origination::Number(
            nudge_core::domain::PhoneNumber::parse("+18335550100", None).unwrap(),
        );
        assert_eq!(
            sender.attributes(Category::Care, Some(&number)).unwrap(),
            vec![
                (ATTR_SMS_TYPE, "String", "Promotional".to_string()),
                (
                    ATTR_ORIGINATION_NUMBER,
                    "String",
                    "+18335550100".to_string()
                ),
            ]
        );
        let own_id = Origination::SenderId("SHOP".into());
        assert_eq!(
            sender.attributes(Category::Care, Some(&own_id)).unwrap(),
            vec![
                (ATTR_SMS_TYPE, "String", "Promotional".to_string()),
                (ATTR_SENDER_ID, "String", "SHOP".to_string()),
            ]
        );
        let pool = Origination::Pool("pool-1".into());
        assert!(sender
            .attributes(Category::Care, Some(&pool))
            .unwrap_err()
            .contains("pool-1"));
    }

    #[test]
    fn only_an_invalid_parameter_about_the_phone_number_is_an_invalid_number() {
        assert!(invalid_number(
            Some("InvalidParameter"),
            Some("Invalid parameter: PhoneNumber Reason: +1555 is not valid to publish to")
        ));
        assert!(!invalid_number(
            Some("InvalidParameter"),
            Some("Invalid parameter: Message too long")
        ));
        assert!(!invalid_number(Some("Throttling"), Some("PhoneNumber")));
    }
}
