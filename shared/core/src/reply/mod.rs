//! Inbound replies: normalisation and classification (opt-out / opt-in / help / keyword / free
//! text).
mod classify;
mod normalize;
mod settings;
pub mod words;

pub use classify::{classify, Classification, Classifier, ReplyKind};
pub(crate) use normalize::normalize;
pub use settings::{OptOutManager, ReplySettings};
