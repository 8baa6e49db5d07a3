//! The provider's own opt-out list (SNS's account list, an End User Messaging opt-out list).
//!
//! A provider that keeps such a list accepts texts to a listed number and drops them, and a
//! number stays listed until it is opted in again with the provider. So when a customer
//! opts back in (START), nudge takes the number off the provider's list too, or keeps it
//! suppressed when the provider refuses: the two lists never disagree.
use async_trait::async_trait;

use crate::domain::PhoneNumber;
use crate::error::Result;

/// What the provider answered when asked to opt a number in again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderOptIn {
    /// The number was not on the provider's list: nothing to do.
    NotOptedOut,
    /// The number was on the list and is off it now.
    OptedIn,
    /// The number is on the list and the provider will not take it off now (SNS opts a
    /// number in only once every 30 days); `reason` is the provider's answer, for people.
    Refused { reason: String },
}

#[async_trait]
pub trait ProviderOptOuts: Send + Sync {
    /// The provider's name, as its receipts and suppressions name it (`sns`).
    fn provider(&self) -> &'static str;

    /// Takes `phone` off the provider's opt-out list where it is on it. A retryable error
    /// (throttling, the provider's own failure) is an `Err` with a retry decision.
    async fn opt_in(&self, phone: &PhoneNumber) -> Result<ProviderOptIn>;
}
