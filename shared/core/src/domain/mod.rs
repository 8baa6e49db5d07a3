//! Domain types shared by every layer.
mod api_key;
mod customer;
mod delivery;
mod duration;
mod event;
mod ids;
mod local_time;
mod message;
mod phone;
mod timer;

pub use api_key::{ApiKey, Scope};
pub(crate) use customer::{parse_zone, RECENT_EVENTS_KEPT};
pub use customer::{
    Activity, Consent, ConsentState, Customer, NumberInvalid, SentEntry, Touch, TOUCHES_KEPT,
};
pub use delivery::{
    DeliveryOutcome, DeliveryReport, Origination, Receipt, TemplateRef, UndeliveredReason,
};
pub use duration::Span;
pub use event::{Event, EVENT_RETENTION_DAYS};
pub use ids::{CustomerId, EventId, MessageId, RuleId, TenantId};
pub(crate) use local_time::local_to_utc;
pub use message::{Category, Message, MessageStatus};
pub use phone::PhoneNumber;
pub use timer::Timer;
