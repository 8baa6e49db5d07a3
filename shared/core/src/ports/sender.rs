//! The SMS sender port: what a gateway needs to send one text, and how it can fail.
use async_trait::async_trait;
use thiserror::Error;

use crate::domain::{Category, MessageId, Origination, PhoneNumber, TemplateRef, TenantId};
use crate::error::{BoxError, Error};

/// One text to send, with everything a real gateway asks for.
#[derive(Clone, Copy, Debug)]
pub struct OutgoingText<'a> {
    /// Whose text it is: the tenant and message id travel with the text where the provider
    /// echoes a context back in its receipts (EUM's `Context`, Tencent's `SessionContext`).
    pub tenant: &'a TenantId,
    pub message_id: &'a MessageId,
    pub to: &'a PhoneNumber,
    pub text: &'a str,
    pub category: Category,
    /// The message parts the text takes (GSM-7 or UCS-2), as counted when it was decided.
    pub segments: u32,
    /// Who the text comes from (the tenant's `sender:`); None lets the provider choose.
    pub origination: Option<&'a Origination>,
    /// For template gateways: the approved template and its parameters (the rule's
    /// `gateway_template`); text gateways send `text`.
    pub template: Option<&'a TemplateRef>,
}

/// What a sender returns for an accepted text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    /// The provider, as receipts name it (`sns`, `eum`, `console`).
    pub provider: &'static str,
    /// The provider's id of the text; its receipts carry it.
    pub provider_id: String,
}

/// Why a text was not accepted. What the outbox does next depends only on the variant.
#[derive(Debug, Error)]
pub enum SendError {
    /// Too fast, a timeout, the provider's own failure: the same text may go out later.
    #[error("{message}")]
    Retryable {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The provider refuses this text for good (a malformed request, refused content, an
    /// account that may not send): the message fails.
    #[error("{message}")]
    Permanent {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The number opted out with the provider: it is suppressed, not retried.
    #[error("the number opted out with {provider}")]
    OptedOut { provider: String },
    /// The account's spend limit is reached: nothing can go out until it is raised or the
    /// period turns, so sending pauses and the text waits, without counting an attempt
    /// against it.
    #[error("{message}")]
    SpendLimitReached {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The provider says the destination is not a number it can text: the message fails
    /// and the number is suppressed as invalid.
    #[error("{message}")]
    InvalidNumber {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// nudge's own failure before the text left (configuration, local I/O): the message is
    /// put back untouched.
    #[error(transparent)]
    Local(#[from] Error),
}

impl SendError {
    pub fn retryable(message: impl Into<String>) -> Self {
        SendError::Retryable {
            message: message.into(),
            source: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SendError::Permanent {
            message: message.into(),
            source: None,
        }
    }
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends one text.
    async fn send(&self, text: &OutgoingText<'_>) -> Result<Sent, SendError>;
}
