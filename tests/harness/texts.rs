//! Texts to hand a sender directly, as the outbox would: an owned [`TestText`] lends the
//! borrowed [`OutgoingText`] the sender port takes.
use nudge_core::domain::{Category, MessageId, Origination, PhoneNumber, TenantId};
use nudge_core::policy::count_segments;
use nudge_core::ports::OutgoingText;

pub struct TestText {
    pub tenant: TenantId,
    pub message_id: MessageId,
    pub to: PhoneNumber,
    pub text: String,
    pub category: Category,
    pub origination: Option<Origination>,
}

impl TestText {
    /// A text of tenant `acme` to `to` (E.164), with a fresh message id.
    pub fn new(to: &str, text: &str, category: Category) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        TestText {
            tenant: TenantId::parse("acme").unwrap_or_else(|e| panic!("{e}")),
            message_id: MessageId::parse(format!("m-test-{n}")).unwrap_or_else(|e| panic!("{e}")),
            to: PhoneNumber::parse(to, None).unwrap_or_else(|e| panic!("{to}: {e}")),
            text: text.to_string(),
            category,
            origination: None,
        }
    }

    pub fn from(mut self, origination: Origination) -> Self {
        self.origination = Some(origination);
        self
    }

    pub fn outgoing(&self) -> OutgoingText<'_> {
        OutgoingText {
            tenant: &self.tenant,
            message_id: &self.message_id,
            to: &self.to,
            text: &self.text,
            category: self.category,
            segments: count_segments(&self.text).segments,
            origination: self.origination.as_ref(),
            template: None,
        }
    }
}
