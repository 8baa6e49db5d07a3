//! Acting on inbound replies: opt-out and opt-in (with one confirmation each), help, keyword
//! menus in the context of the message replied to, and free text for a human. Provider-neutral:
//! the SNS (End User Messaging) and HTTP webhook adapters both call [`Engine::handle_reply`].
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::counter::{one_each, Counter};
use super::outbound::publish;
use super::retry::{retry_on_conflict, Attempt};
use super::{message_id, DetailType, Engine, EventInput};
use crate::domain::{
    Category, ConsentState, Customer, CustomerId, Message, MessageId, MessageStatus, PhoneNumber,
    RuleId, TenantId,
};
use crate::error::{Error, Result};
use crate::policy;
use crate::ports::{
    CounterStore, CustomerStore, DueIndex, EventLog, EventPublisher, InboundLog, MessageStore,
    ProviderOptIn, SuppressionList,
};
use crate::reply::{Classifier, ReplyKind};
use crate::rulebook::{Rule, Rulebook};

/// Longest reply body accepted (ten concatenated SMS segments); longer ones are rejected.
pub(crate) const MAX_REPLY_CHARS: usize = 1_600;
/// The stats "rule" of replies that answer no known text.
pub(crate) const UNATTRIBUTED_REPLIES: &str = "replies";
/// Messages looked at to find the one a reply answers.
const CONTEXT_MESSAGES: usize = 20;
/// Attempts at changing a customer (consent, attributes) when it keeps changing underneath.
const MODIFY_ATTEMPTS: usize = 5;

/// One inbound SMS as any provider delivers it.
#[derive(Clone, Debug, PartialEq)]
pub struct InboundSms {
    pub from: String,
    pub to: String,
    pub body: String,
    /// The provider's id of this inbound message (deduplication).
    pub provider_id: String,
    /// The provider's id of the message this one answers, when the provider knows it.
    pub in_reply_to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ReplyOutcome {
    /// Seen before (providers deliver at least once).
    Duplicate,
    Rejected {
        reason: RejectReason,
    },
    OptedOut {
        confirmation_queued: bool,
    },
    OptedIn {
        confirmation_queued: bool,
    },
    /// The customer asked to opt back in and the provider would not take the number off its
    /// opt-out list yet: the number stays suppressed (texts to it would be dropped).
    OptInRefused {
        provider: String,
        reason: String,
    },
    /// A help request; `answered`: whether nudge queued the help text (not when the
    /// provider answers help requests itself).
    Help {
        answered: bool,
    },
    Keyword {
        rule: String,
        keyword: String,
        emitted: Option<String>,
    },
    FreeText,
}

/// Why a reply was not acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// `from` is not a phone number.
    InvalidSender,
    /// Longer than [`MAX_REPLY_CHARS`].
    BodyTooLong,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReplyReport {
    #[serde(flatten)]
    pub outcome: ReplyOutcome,
    pub customer_id: Option<String>,
    pub normalized: Option<String>,
}

impl ReplyReport {
    fn new(outcome: ReplyOutcome) -> Self {
        ReplyReport {
            outcome,
            customer_id: None,
            normalized: None,
        }
    }
}

/// Longest provider message id accepted (bytes); ids are part of store keys.
pub(crate) const MAX_PROVIDER_ID_BYTES: usize = 256;

/// Checks a provider's message id: present, at most [`MAX_PROVIDER_ID_BYTES`], no control
/// characters. The error is the message for the field that carried the id.
pub fn check_provider_id(id: &str) -> std::result::Result<(), String> {
    if id.trim().is_empty() {
        Err("is required to deduplicate replies".into())
    } else if id.len() > MAX_PROVIDER_ID_BYTES {
        Err(format!("is longer than {MAX_PROVIDER_ID_BYTES} bytes"))
    } else if id.chars().any(char::is_control) {
        Err("contains control characters".into())
    } else {
        Ok(())
    }
}

/// Builds the classifier of a tenant: built-in words, the tenant's words, every menu keyword.
pub fn classifier_for(rulebook: &Rulebook) -> Classifier {
    let keywords = rulebook
        .rules
        .iter()
        .flat_map(|r| r.replies.keys().cloned());
    Classifier::new(Some(&rulebook.replies), keywords)
}

impl<S> Engine<S>
where
    S: CustomerStore
        + EventLog
        + DueIndex
        + MessageStore
        + SuppressionList
        + CounterStore
        + InboundLog
        + ?Sized,
{
    #[tracing::instrument(name = "handle_reply", skip_all, fields(tenant = %tenant))]
    pub async fn handle_reply(
        &self,
        tenant: &TenantId,
        sms: InboundSms,
        publisher: &dyn EventPublisher,
    ) -> Result<ReplyReport> {
        let rulebook = self.rulebook(tenant)?.clone();
        let now = self.now();
        check_provider_id(&sms.provider_id).map_err(|m| Error::invalid("provider_id", m))?;
        if !self
            .store
            .record_inbound(tenant, &sms.provider_id, now)
            .await?
        {
            return Ok(ReplyReport::new(ReplyOutcome::Duplicate));
        }
        let provider_id = sms.provider_id.clone();
        match self
            .act_on_reply(tenant, &rulebook, sms, publisher, now)
            .await
        {
            Ok(report) => Ok(report),
            Err(err) => {
                // Handling failed part-way (e.g. the store became unavailable): forget the id
                // so the provider's redelivery is handled rather than dropped as a duplicate.
                // Every effect is idempotent per inbound id (answers and emitted events are
                // keyed by it), so redoing the first part is safe.
                if let Err(forget) = self.store.forget_inbound(tenant, &provider_id).await {
                    tracing::error!(provider_id, error = %forget, "could not forget a failed reply");
                }
                Err(err)
            }
        }
    }

    async fn act_on_reply(
        &self,
        tenant: &TenantId,
        rulebook: &Rulebook,
        sms: InboundSms,
        publisher: &dyn EventPublisher,
        now: DateTime<Utc>,
    ) -> Result<ReplyReport> {
        let phone = match PhoneNumber::parse(&sms.from, rulebook.phone_region.as_deref()) {
            Ok(phone) => phone,
            Err(err) => {
                tracing::warn!(provider_id = %sms.provider_id, error = %err, "reply rejected");
                return Ok(ReplyReport::new(ReplyOutcome::Rejected {
                    reason: RejectReason::InvalidSender,
                }));
            }
        };
        if sms.body.chars().count() > MAX_REPLY_CHARS {
            tracing::warn!(provider_id = %sms.provider_id, "reply rejected: body too long");
            return Ok(ReplyReport::new(ReplyOutcome::Rejected {
                reason: RejectReason::BodyTooLong,
            }));
        }
        let classification = classifier_for(rulebook).classify(&sms.body);
        let customer = self.store.find_customer_by_phone(tenant, &phone).await?;
        let context = match &customer {
            Some(c) => {
                self.replied_message(rulebook, c, sms.in_reply_to.as_deref(), now)
                    .await?
            }
            None => None,
        };
        let context_rule = context.as_ref().and_then(|m| rulebook.rule(&m.rule));
        let reply = Reply {
            rulebook,
            sms: &sms,
            phone: &phone,
            customer: customer.as_ref(),
            now,
        };
        let outcome = match &classification.kind {
            ReplyKind::OptOut => self.opt_out(&reply, publisher).await?,
            ReplyKind::OptIn => self.opt_in(&reply, publisher).await?,
            ReplyKind::Help => {
                let answered = rulebook.replies.opt_outs_managed_by.nudge_answers();
                if answered {
                    self.answer(&reply, "reply.help", &rulebook.replies.help_text, true)
                        .await?;
                }
                ReplyOutcome::Help { answered }
            }
            ReplyKind::Keyword(keyword) => {
                match context_rule.and_then(|r| r.replies.get(keyword).map(|a| (r, a))) {
                    Some((rule, action)) => {
                        self.keyword(&reply, rule, keyword, action, publisher)
                            .await?
                    }
                    None => ReplyOutcome::FreeText,
                }
            }
            ReplyKind::FreeText => ReplyOutcome::FreeText,
        };
        let stats_rule = context_rule.map_or(UNATTRIBUTED_REPLIES, |r| r.id.as_str());
        let mut counted = vec![Counter::Replied];
        match &outcome {
            ReplyOutcome::OptedOut { .. } => counted.push(Counter::OptedOut),
            ReplyOutcome::OptedIn { .. } => counted.push(Counter::OptedIn),
            ReplyOutcome::OptInRefused { .. } => counted.push(Counter::OptInRefused),
            ReplyOutcome::Keyword { keyword, .. } => {
                counted.push(Counter::Keyword(keyword.clone()));
            }
            ReplyOutcome::FreeText => {
                counted.push(Counter::FreeText);
                // Kept normalised (and cut) so that a report can rank what customers write.
                self.store
                    .add_reply_text(tenant, now.date_naive(), &classification.normalized)
                    .await?;
                let detail = json!({
                    "customer_id": customer.as_ref().map(|c| c.id.as_str()),
                    "from": phone.as_str(),
                    "text": sms.body,
                    "rule": context_rule.map(|r| r.id.as_str()),
                });
                publish(publisher, tenant, DetailType::ReplyReceived, detail, now).await;
            }
            _ => {}
        }
        self.store
            .add_stats(tenant, now.date_naive(), stats_rule, &one_each(counted))
            .await?;
        tracing::info!(tenant = %tenant, kind = ?classification.kind, outcome = ?outcome, "reply");
        Ok(ReplyReport {
            outcome,
            customer_id: customer.map(|c| c.id.to_string()),
            normalized: Some(classification.normalized),
        })
    }

    /// The message a reply answers: the one the provider names, else the customer's latest
    /// text within the keyword context window.
    async fn replied_message(
        &self,
        rulebook: &Rulebook,
        customer: &Customer,
        in_reply_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Message>> {
        let recent = self
            .store
            .customer_messages(&customer.tenant, &customer.id, CONTEXT_MESSAGES)
            .await?;
        let sent = |m: &&Message| {
            matches!(
                m.status,
                MessageStatus::Sent
                    | MessageStatus::Delivered
                    | MessageStatus::Sending
                    | MessageStatus::Dispatched
                    // May have gone out: a reply may well answer it.
                    | MessageStatus::Unknown
                    | MessageStatus::Queued
            ) && rulebook.rule(&m.rule).is_some()
        };
        if let Some(id) = in_reply_to {
            if let Some(m) = recent
                .iter()
                .filter(sent)
                .find(|m| m.provider_id.as_deref() == Some(id))
            {
                return Ok(Some(m.clone()));
            }
        }
        let since = rulebook
            .replies
            .keyword_context
            .negate()
            .add_to(now)
            .unwrap_or(now);
        Ok(recent
            .iter()
            .filter(sent)
            .find(|m| m.created_at >= since)
            .cloned())
    }

    async fn opt_out(
        &self,
        reply: &Reply<'_>,
        publisher: &dyn EventPublisher,
    ) -> Result<ReplyOutcome> {
        let tenant = &reply.rulebook.tenant;
        // Keyed on this inbound message: if handling it failed after the number was
        // suppressed, its redelivery still confirms (the confirmation is queued once per id).
        let newly = self
            .store
            .suppress(
                tenant,
                reply.phone,
                reply.now,
                "sms",
                Some(&reply.sms.provider_id),
            )
            .await?;
        if let Some(customer) = reply.customer {
            self.set_consent(customer, ConsentState::OptedOut, reply.now, "sms")
                .await?;
        }
        if !newly {
            return Ok(ReplyOutcome::OptedOut {
                confirmation_queued: false,
            });
        }
        // Where the provider manages opt-outs it has confirmed already: one answer, not two.
        let queued = if reply.rulebook.replies.opt_outs_managed_by.nudge_answers() {
            let text = &reply.rulebook.replies.opt_out_confirmation;
            self.answer(reply, "reply.opt_out", text, true).await?
        } else {
            false
        };
        let detail = json!({"customer_id": reply.customer.map(|c| c.id.as_str()), "phone": reply.phone.as_str(), "text": reply.sms.body});
        publish(
            publisher,
            tenant,
            DetailType::CustomerOptedOut,
            detail,
            reply.now,
        )
        .await;
        Ok(ReplyOutcome::OptedOut {
            confirmation_queued: queued,
        })
    }

    async fn opt_in(
        &self,
        reply: &Reply<'_>,
        publisher: &dyn EventPublisher,
    ) -> Result<ReplyOutcome> {
        let tenant = &reply.rulebook.tenant;
        // The provider's list first: while the number is on it the provider drops every text,
        // so nudge lifts its own suppression only once the provider has lifted its own.
        if let Some(opt_outs) = &self.provider_opt_outs {
            if let ProviderOptIn::Refused { reason } = opt_outs.opt_in(reply.phone).await? {
                tracing::warn!(
                    provider = opt_outs.provider(),
                    reason,
                    "the provider refused to opt the number in; it stays suppressed"
                );
                let detail = json!({
                    "customer_id": reply.customer.map(|c| c.id.as_str()),
                    "phone": reply.phone.as_str(),
                    "provider": opt_outs.provider(),
                    "reason": reason,
                });
                publish(
                    publisher,
                    tenant,
                    DetailType::CustomerOptInRefused,
                    detail,
                    reply.now,
                )
                .await;
                return Ok(ReplyOutcome::OptInRefused {
                    provider: opt_outs.provider().to_string(),
                    reason,
                });
            }
        }
        let lifted = self.store.unsuppress(tenant, reply.phone).await?;
        let was_opted_out = reply.customer.is_some_and(Customer::is_opted_out);
        if let Some(customer) = reply.customer {
            if customer.number_is_invalid() {
                // A reply from the number shows it works: nudge stops giving it up.
                self.modify_customer(customer, reply.now, |c| c.number_invalid = None)
                    .await?;
            }
            self.set_consent(customer, ConsentState::Subscribed, reply.now, "sms")
                .await?;
        }
        if !lifted && !was_opted_out {
            return Ok(ReplyOutcome::OptedIn {
                confirmation_queued: false,
            });
        }
        let text = &reply.rulebook.replies.opt_in_confirmation;
        let queued = self.answer(reply, "reply.opt_in", text, false).await?;
        let detail = json!({"customer_id": reply.customer.map(|c| c.id.as_str()), "phone": reply.phone.as_str()});
        publish(
            publisher,
            tenant,
            DetailType::CustomerOptedIn,
            detail,
            reply.now,
        )
        .await;
        Ok(ReplyOutcome::OptedIn {
            confirmation_queued: queued,
        })
    }

    async fn keyword(
        &self,
        reply: &Reply<'_>,
        rule: &Rule,
        keyword: &str,
        action: &crate::rulebook::ReplyAction,
        publisher: &dyn EventPublisher,
    ) -> Result<ReplyOutcome> {
        let tenant = &reply.rulebook.tenant;
        let Some(customer) = reply.customer else {
            return Ok(ReplyOutcome::FreeText);
        };
        if !action.set.is_empty() {
            self.update_attributes(customer, &action.set, reply.now)
                .await?;
        }
        if let Some(emit) = &action.emit {
            // The emitted event is a customer event like any other: rules may react to it.
            let input = EventInput {
                event_id: format!("reply-{}", reply.sms.provider_id),
                customer_id: customer.id.to_string(),
                event_type: emit.clone(),
                occurred_at: Some(reply.now),
                properties: serde_json::Map::from_iter([
                    ("keyword".to_string(), Value::String(keyword.to_string())),
                    ("rule".to_string(), Value::String(rule.id.to_string())),
                ]),
            };
            self.ingest_event(tenant, input).await?;
        }
        if let Some(answer) = &action.answer {
            self.answer(reply, "reply.answer", answer, false).await?;
        }
        let detail = json!({
            "customer_id": customer.id.as_str(), "rule": rule.id.as_str(), "keyword": keyword,
            "event": action.emit, "text": reply.sms.body,
        });
        publish(
            publisher,
            tenant,
            DetailType::KeywordMatched,
            detail,
            reply.now,
        )
        .await;
        Ok(ReplyOutcome::Keyword {
            rule: rule.id.to_string(),
            keyword: keyword.to_string(),
            emitted: action.emit.clone(),
        })
    }

    /// Queues a transactional answer to the sender, once per inbound message.
    async fn answer(
        &self,
        reply: &Reply<'_>,
        kind: &str,
        body: &str,
        ignores_suppression: bool,
    ) -> Result<bool> {
        let rulebook = reply.rulebook;
        let customer_id = match reply.customer {
            Some(c) => c.id.clone(),
            None => CustomerId::parse(format!("~{}", reply.phone))?,
        };
        let rule = RuleId::parse(kind)?;
        let occurrence = reply.sms.provider_id.clone();
        let dedupe_key = Message::dedupe_key(&rule, &customer_id, &occurrence);
        let text = policy::compose(
            &rulebook.brand,
            body,
            &rulebook.policy.opt_out_footer,
            Category::Transactional,
        );
        let message = Message {
            tenant: rulebook.tenant.clone(),
            id: MessageId::parse(message_id("r", &dedupe_key))?,
            customer_id,
            rule,
            category: Category::Transactional,
            occurrence,
            phone: reply.phone.clone(),
            segments: policy::count_segments(&text).segments,
            text,
            template: None,
            status: MessageStatus::Queued,
            reason: None,
            created_at: reply.now,
            updated_at: reply.now,
            provider: None,
            provider_id: None,
            sent_at: None,
            delivery: None,
            attempts: 0,
            next_attempt_at: None,
            lease_until: None,
            ignores_suppression,
        };
        let stats = one_each([Counter::Queued]);
        let outcome = self.store.queue_message(&message, &stats).await?;
        Ok(outcome == crate::ports::CommitOutcome::Committed)
    }
}

/// Changes to a stored customer: consent (with its timers) and attributes.
impl<S: CustomerStore + DueIndex + ?Sized> Engine<S> {
    /// Records the customer's consent (`source`: where it came from, e.g. `sms`) and re-arms
    /// their timers: opting out cancels pending ones, opting in arms them again.
    pub(super) async fn set_consent(
        &self,
        customer: &Customer,
        state: ConsentState,
        now: DateTime<Utc>,
        source: &str,
    ) -> Result<()> {
        let rulebook = self.rulebook(&customer.tenant)?.clone();
        self.modify_customer(customer, now, |c| {
            if c.consent.state != state {
                c.consent.state = state;
                c.consent.changed_at = Some(now);
                c.consent.source = Some(source.into());
            }
        })
        .await
        .map(|_| ())?;
        if let Some(fresh) = self
            .store
            .get_customer(&customer.tenant, &customer.id)
            .await?
        {
            self.rearm_state_timers(&rulebook, &fresh, now).await?;
        }
        Ok(())
    }

    async fn update_attributes(
        &self,
        customer: &Customer,
        set: &std::collections::BTreeMap<String, Value>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.modify_customer(customer, now, |c| {
            for (key, value) in set {
                let value = if value.as_str() == Some("now") {
                    Value::String(now.to_rfc3339())
                } else {
                    value.clone()
                };
                c.attributes.insert(key.clone(), value);
            }
        })
        .await
        .map(|_| ())
    }

    /// Applies `change` to the stored customer with optimistic concurrency.
    pub(super) async fn modify_customer(
        &self,
        customer: &Customer,
        now: DateTime<Utc>,
        change: impl Fn(&mut Customer),
    ) -> Result<Customer> {
        let change = &change;
        let modified = retry_on_conflict(MODIFY_ATTEMPTS, || async move {
            let Some(mut current) = self
                .store
                .get_customer(&customer.tenant, &customer.id)
                .await?
            else {
                return Err(Error::NotFound(format!("customer {}", customer.id)));
            };
            let expected = current.version;
            change(&mut current);
            current.updated_at = now;
            let written = self.store.put_customer(&current, Some(expected)).await;
            Ok(Attempt::of_write(written)?.map(|version| {
                current.version = version;
                current
            }))
        })
        .await?;
        modified.ok_or_else(|| Error::Conflict(format!("customer {} kept changing", customer.id)))
    }
}

struct Reply<'a> {
    rulebook: &'a Rulebook,
    sms: &'a InboundSms,
    phone: &'a PhoneNumber,
    customer: Option<&'a Customer>,
    now: DateTime<Utc>,
}
