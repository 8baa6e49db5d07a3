//! Inbound SMS as providers deliver them, parsed strictly into the provider-neutral
//! [`InboundSms`].
use serde::Deserialize;

use nudge_core::error::{Error, Result};
use nudge_core::service::InboundSms;

/// The JSON that AWS End User Messaging (two-way SMS) publishes to the SNS topic of a number
/// (`messageKeyword`, the registered keyword, is not needed: nudge classifies the body).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EumInbound {
    origination_number: String,
    destination_number: String,
    message_body: String,
    inbound_message_id: String,
    #[serde(default)]
    previous_published_message_id: Option<String>,
}

/// Parses the `Message` of an SNS notification from an End User Messaging two-way number.
/// Errors name the missing or malformed field.
pub fn parse_eum_message(message: &str) -> Result<InboundSms> {
    let parsed: EumInbound = serde_json::from_str(message)
        .map_err(|e| Error::invalid("Message", format!("not an inbound SMS notification: {e}")))?;
    for (field, value) in [
        ("originationNumber", &parsed.origination_number),
        ("destinationNumber", &parsed.destination_number),
        ("inboundMessageId", &parsed.inbound_message_id),
    ] {
        if value.trim().is_empty() {
            return Err(Error::invalid(field, "is empty"));
        }
    }
    Ok(InboundSms {
        from: parsed.origination_number,
        to: parsed.destination_number,
        body: parsed.message_body,
        provider_id: parsed.inbound_message_id,
        in_reply_to: parsed
            .previous_published_message_id
            .filter(|id| !id.is_empty()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_end_user_messaging_shape() {
        let message = r#"{"originationNumber":"+8613800138000","destinationNumber":"+12065550142","messageKeyword":"KEYWORD_123456789012","messageBody":"TD","previousPublishedMessageId":"wJ0AJLIe7G3eEjxHMsFt2q4Oq3lcRJVzNh5qqMKWnR9iw8jJpRPUdoodldAzBeMr","inboundMessageId":"cae173d2-66b9-564c-8309-21f858e9fb84"}"#;
        let sms = parse_eum_message(message).unwrap();
        assert_eq!(sms.from, "+8613800138000");
        assert_eq!(sms.to, "+12065550142");
        assert_eq!(sms.body, "TD");
        assert_eq!(sms.provider_id, "cae173d2-66b9-564c-8309-21f858e9fb84");
        assert!(sms.in_reply_to.unwrap().starts_with("wJ0AJ"));
    }

    #[test]
    fn rejects_non_json_and_missing_fields_naming_them() {
        let err = parse_eum_message("STOP").unwrap_err().to_string();
        assert!(err.starts_with("Message:"), "{err}");
        let err = parse_eum_message(
            r#"{"originationNumber":"+8613800138000","destinationNumber":"+1","messageBody":"x"}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("inboundMessageId"), "{err}");
        let err = parse_eum_message(r#"{"originationNumber":" ","destinationNumber":"+1","messageBody":"x","inboundMessageId":"i"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("originationNumber"), "{err}");
    }
}
