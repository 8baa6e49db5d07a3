//! What Tencent's answer codes mean for the outbox. Codes are those of SMS API 2021-01-11
//! (the "Error Codes" page of the SMS API documentation, as the Tencent Cloud SDKs list them
//! for `sms/v20210111`), both as `Response.Error.Code` (the whole call failed) and as a
//! number's `SendStatusSet[].Code`.
use nudge_core::ports::SendError;

use crate::PROVIDER;

/// The outbox's reading of one code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Sent,
    Retryable,
    Permanent,
    SpendLimit,
    InvalidNumber,
    OptedOut,
}

/// Caps that reset with time (per number per 30 s, hour or day, per app or country per
/// day, the frequency policy): the same text may go out later.
const TIME_CAPS: &[&str] = &[
    "LimitExceeded.PhoneNumberThirtySecondLimit",
    "LimitExceeded.PhoneNumberOneHourLimit",
    "LimitExceeded.PhoneNumberDailyLimit",
    "LimitExceeded.PhoneNumberSameContentDailyLimit",
    "LimitExceeded.DeliveryFrequencyLimit",
    "LimitExceeded.AppDailyLimit",
    "LimitExceeded.DailyLimit",
    "LimitExceeded.AppCountryOrRegionDailyLimit",
    "LimitExceeded.AppGlobalDailyLimit",
    "LimitExceeded.AppMainlandChinaDailyLimit",
];

pub fn classify(code: &str) -> Class {
    match code {
        "Ok" => Class::Sent,
        // The package is used up, or the account is suspended for arrears: nothing goes out
        // until it is topped up.
        "FailedOperation.InsufficientBalanceInSmsPackage"
        | "UnauthorizedOperation.SerivceSuspendDueToArrears" => Class::SpendLimit,
        "InvalidParameterValue.IncorrectPhoneNumber" | "FailedOperation.PhoneNumberParseFail" => {
            Class::InvalidNumber
        }
        // Tencent's do-not-disturb list: the customer unsubscribed or the carrier lists them.
        "FailedOperation.PhoneNumberInBlacklist" => Class::OptedOut,
        // Marketing texts may go out between 08:00 and 22:00 only.
        "FailedOperation.MarketingSendTimeConstraint" => Class::Retryable,
        code if TIME_CAPS.contains(&code) => Class::Retryable,
        code if code == "RequestLimitExceeded" || code.starts_with("RequestLimitExceeded.") => {
            Class::Retryable
        }
        code if code.starts_with("InternalError") => Class::Retryable,
        // Credentials, permissions, templates, signatures, a country refused by the app's
        // settings, and anything unknown: sending it again cannot help.
        _ => Class::Permanent,
    }
}

/// The send error of a code that is not `Ok`, with Tencent's code and words in its message.
pub fn send_error(code: &str, message: &str) -> SendError {
    let text = format!("{PROVIDER}: {code}: {}", message.trim());
    match classify(code) {
        Class::Retryable => SendError::retryable(text),
        Class::SpendLimit => SendError::SpendLimitReached {
            message: text,
            source: None,
        },
        Class::InvalidNumber => SendError::InvalidNumber {
            message: text,
            source: None,
        },
        Class::OptedOut => SendError::OptedOut {
            provider: PROVIDER.into(),
        },
        Class::Sent | Class::Permanent => SendError::permanent(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_what_the_outbox_does() {
        let cases = [
            ("Ok", Class::Sent),
            ("AuthFailure.SignatureFailure", Class::Permanent),
            ("AuthFailure.SecretIdNotFound", Class::Permanent),
            (
                "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
                Class::Permanent,
            ),
            ("LimitExceeded.PhoneNumberDailyLimit", Class::Retryable),
            (
                "LimitExceeded.PhoneNumberThirtySecondLimit",
                Class::Retryable,
            ),
            ("LimitExceeded.PhoneNumberCountLimit", Class::Permanent),
            (
                "LimitExceeded.AppCountryOrRegionInBlacklist",
                Class::Permanent,
            ),
            ("RequestLimitExceeded", Class::Retryable),
            (
                "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
                Class::Retryable,
            ),
            ("InternalError", Class::Retryable),
            ("InternalError.Timeout", Class::Retryable),
            (
                "FailedOperation.InsufficientBalanceInSmsPackage",
                Class::SpendLimit,
            ),
            (
                "InvalidParameterValue.IncorrectPhoneNumber",
                Class::InvalidNumber,
            ),
            ("FailedOperation.PhoneNumberInBlacklist", Class::OptedOut),
            (
                "FailedOperation.TemplateIncorrectOrUnapproved",
                Class::Permanent,
            ),
            ("Something.New", Class::Permanent),
        ];
        for (code, class) in cases {
            assert_eq!(classify(code), class, "{code}");
        }
    }

    #[test]
    fn unknown_codes_keep_the_code_in_the_message() {
        let err = send_error("Something.New", " words ");
        assert!(matches!(err, SendError::Permanent { .. }));
        assert_eq!(err.to_string(), "tencent: Something.New: words");
    }
}
