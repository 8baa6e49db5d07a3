//! Domain types shared by every layer.
mod api_key;
mod customer;
mod duration;
mod event;
mod ids;
mod local_time;
mod message;
mod phone;
mod timer;

pub use api_key::{ApiKey, Scope};
pub use customer::{
    parse_zone, Activity, Consent, ConsentState, Customer, SentEntry, RECENT_EVENTS_KEPT,
};
pub use duration::Span;
pub use event::{Event, EVENT_RETENTION_DAYS};
pub use ids::{CustomerId, EventId, MessageId, RuleId, TenantId};
pub use local_time::local_to_utc;
pub use message::{Category, Message, MessageStatus};
pub use phone::PhoneNumber;
pub use timer::Timer;
