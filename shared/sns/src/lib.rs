//! The production SMS sender: Amazon SNS `Publish` to a phone number.
use async_trait::async_trait;
use aws_sdk_sns::types::MessageAttributeValue;

use nudge_aws::provider_error;
use nudge_core::domain::{Category, PhoneNumber};
use nudge_core::error::{Error, Result};
use nudge_core::ports::{Sent, SmsSender};

pub const ATTR_SMS_TYPE: &str = "AWS.SNS.SMS.SMSType";
pub const ATTR_SENDER_ID: &str = "AWS.SNS.SMS.SenderID";
pub const ATTR_MAX_PRICE: &str = "AWS.SNS.SMS.MaxPrice";

/// Sends texts with SNS. Transactional texts go as `Transactional` (higher delivery priority),
/// care and marketing as `Promotional`.
#[derive(Clone, Debug)]
pub struct SnsSender {
    client: aws_sdk_sns::Client,
    sender_id: Option<String>,
    max_price: Option<String>,
}

/// The SNS SMS type for a category.
pub fn sms_type(category: Category) -> &'static str {
    match category {
        Category::Transactional => "Transactional",
        Category::Care | Category::Marketing => "Promotional",
    }
}

impl SnsSender {
    /// `sender_id`: the alphanumeric sender id where the destination country supports one;
    /// `max_price`: the most (USD) one text may cost, e.g. `"0.50"`. Empty strings count as unset.
    pub fn new(
        client: aws_sdk_sns::Client,
        sender_id: Option<String>,
        max_price: Option<String>,
    ) -> Self {
        SnsSender {
            client,
            sender_id: sender_id.filter(|s| !s.trim().is_empty()),
            max_price: max_price.filter(|s| !s.trim().is_empty()),
        }
    }

    /// The message attributes of one text (name, SNS data type, value), in a stable order.
    /// The price cap is a `Number`, as AWS documents it; the others are `String`s.
    pub fn attributes(&self, category: Category) -> Vec<(&'static str, &'static str, String)> {
        let mut attributes = vec![(ATTR_SMS_TYPE, "String", sms_type(category).to_string())];
        if let Some(id) = &self.sender_id {
            attributes.push((ATTR_SENDER_ID, "String", id.clone()));
        }
        if let Some(price) = &self.max_price {
            attributes.push((ATTR_MAX_PRICE, "Number", price.clone()));
        }
        attributes
    }
}

fn attribute(data_type: &str, value: String) -> Result<MessageAttributeValue> {
    MessageAttributeValue::builder()
        .data_type(data_type)
        .string_value(value)
        .build()
        .map_err(|_| Error::Config("sns: invalid message attribute".into()))
}

#[async_trait]
impl SmsSender for SnsSender {
    async fn send(&self, to: &PhoneNumber, text: &str, category: Category) -> Result<Sent> {
        let mut request = self
            .client
            .publish()
            .phone_number(to.as_str())
            .message(text);
        for (name, data_type, value) in self.attributes(category) {
            request = request.message_attributes(name, attribute(data_type, value)?);
        }
        let output = request
            .send()
            .await
            .map_err(|err| provider_error("sns", &err))?;
        let provider_id = output.message_id().ok_or_else(|| Error::Provider {
            retryable: false,
            message: "sns: no message id in the answer".into(),
            source: None,
        })?;
        Ok(Sent {
            provider_id: provider_id.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
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
            plain.attributes(Category::Care),
            vec![(ATTR_SMS_TYPE, "String", "Promotional".to_string())]
        );
        let full = SnsSender::new(client(), Some("ACME".into()), Some("0.50".into()));
        assert_eq!(
            full.attributes(Category::Transactional),
            vec![
                (ATTR_SMS_TYPE, "String", "Transactional".to_string()),
                (ATTR_SENDER_ID, "String", "ACME".to_string()),
                (ATTR_MAX_PRICE, "Number", "0.50".to_string()),
            ]
        );
    }
}
