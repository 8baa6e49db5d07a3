//! Tencent Cloud SMS: the sender (`SendSms`, API 3.0 signed with TC3-HMAC-SHA256) and the
//! parsers of its two callbacks, the delivery status report and the customer's reply.
mod accounts;
pub mod callback;
pub mod codes;
mod sender;
pub mod sign;

pub use accounts::{parse_accounts, TencentSenders};
pub use callback::{parse_reply, parse_status, CallbackError, SUCCESS_ANSWER};
pub use sender::{
    TencentConfig, TencentSender, ACTION, DEFAULT_REGION, ENDPOINT, REQUEST_TIMEOUT, SERVICE,
    VERSION,
};

/// The provider name texts sent through Tencent carry, and their receipts.
pub const PROVIDER: &str = "tencent";
