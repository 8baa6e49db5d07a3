//! Tencent Cloud SMS: the sender (`SendSms`, API 3.0 signed with TC3-HMAC-SHA256) and the
//! parsers of its two callbacks, the delivery status report and the customer's reply.
pub mod sign;

/// The provider name texts sent through Tencent carry, and their receipts.
pub const PROVIDER: &str = "tencent";
