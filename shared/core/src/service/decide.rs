//! Applying one rule to one customer at one instant: conditions, rendering and the policies.
//! Pure: the scheduler, ingest (no-delay event rules) and preview all call this.
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::domain::{Customer, Event, TemplateRef};
use crate::policy::{self, count_segments, Decision, DeferReason, PolicyInput, SkipReason};
use crate::rulebook::{Bindings, Condition, Rule, Rulebook};

/// What the engine decided for a rule occurrence.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Send {
        text: String,
        segments: u32,
        /// The gateway template and its parameters, for rules that have one.
        #[serde(skip_serializing_if = "Option::is_none")]
        template: Option<TemplateRef>,
    },
    Defer {
        until: DateTime<Utc>,
        reason: DeferReason,
        text: Option<String>,
    },
    Skip {
        reason: SkipReason,
        text: Option<String>,
    },
}

impl Outcome {
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Send { .. } => "send",
            Outcome::Defer { .. } => "defer",
            Outcome::Skip { .. } => "skip",
        }
    }

    /// The reason's code (`window`, `cap_per_week`, …) as logs, reports and skipped messages
    /// carry it; None for a send.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Outcome::Send { .. } => None,
            Outcome::Defer { reason, .. } => Some(reason.code()),
            Outcome::Skip { reason, .. } => Some(reason.code()),
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Outcome::Send { text, .. } => Some(text),
            Outcome::Defer { text, .. } | Outcome::Skip { text, .. } => text.as_deref(),
        }
    }
}

/// A stable message id derived from what makes the message unique, so a retried decision
/// produces the same id instead of a second message.
pub fn message_id(kind: &str, dedupe_key: &str) -> String {
    let digest = Sha256::digest(format!("{kind}\u{1f}{dedupe_key}").as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("{kind}_{hex}")
}

/// Evaluates an optional condition; `absent` is the value when the rule has none. A condition
/// that cannot be evaluated (e.g. a missing attribute) does not hold.
fn holds(condition: Option<&Condition>, bindings: &Bindings, absent: bool, rule: &Rule) -> bool {
    match condition {
        None => absent,
        Some(c) => c.eval_with(bindings).unwrap_or_else(|err| {
            tracing::warn!(rule = %rule.id, condition = %c.source, error = %err, "condition failed");
            false
        }),
    }
}

/// Whether the rule's `when` holds now for the customer's (and event's) context; used when
/// arming timers.
pub(crate) fn condition_holds(
    rule: &Rule,
    customer: &serde_json::Value,
    event: Option<&serde_json::Value>,
    now: DateTime<Utc>,
) -> bool {
    let Some(when) = &rule.when else { return true };
    let bindings = Bindings::for_conditions(&[when], customer, event, now);
    holds(Some(when), &bindings, true, rule)
}

/// Decides a rule occurrence for a customer at `now`.
pub fn decide(
    rulebook: &Rulebook,
    rule: &Rule,
    customer: &Customer,
    event: Option<&Event>,
    now: DateTime<Utc>,
) -> Outcome {
    let customer_ctx = customer.to_context();
    let event_ctx = event.map(Event::to_context);
    let (condition_holds, exit_holds) = if rule.when.is_none() && rule.exit.is_none() {
        (true, false)
    } else {
        let conditions: Vec<&Condition> = rule.when.iter().chain(&rule.exit).collect();
        let bindings =
            Bindings::for_conditions(&conditions, &customer_ctx, event_ctx.as_ref(), now);
        (
            holds(rule.when.as_ref(), &bindings, true, rule),
            holds(rule.exit.as_ref(), &bindings, false, rule),
        )
    };
    let policy = &rulebook.policy;
    let rendered = rule
        .template
        .render(&customer_ctx, event_ctx.as_ref())
        .and_then(|body| {
            let template = match &rule.gateway_template {
                Some(gateway) => Some(TemplateRef {
                    id: gateway.id.clone(),
                    params: gateway
                        .params
                        .iter()
                        .map(|param| param.render(&customer_ctx, event_ctx.as_ref()))
                        .collect::<crate::error::Result<_>>()?,
                }),
                None => None,
            };
            Ok((body, template))
        });
    let (text, template) = match rendered {
        Ok((body, template)) => (
            policy::compose(
                &rulebook.brand,
                &body,
                &policy.opt_out_footer,
                rule.category,
            ),
            template,
        ),
        Err(err) => {
            if customer.is_opted_out() {
                return Outcome::Skip {
                    reason: SkipReason::OptedOut,
                    text: None,
                };
            }
            tracing::warn!(rule = %rule.id, customer = %customer.id, error = %err, "template failed");
            return Outcome::Skip {
                reason: SkipReason::Template,
                text: None,
            };
        }
    };
    let input = PolicyInput {
        now,
        zone: customer.zone(rulebook.timezone),
        category: rule.category,
        rule: &rule.id,
        customer_id: customer.id.as_str(),
        holdout_bp: rule.holdout_bp,
        max_segments: rule.max_segments.unwrap_or(policy.max_segments),
        suppressed: customer.is_opted_out(),
        number_invalid: customer.number_is_invalid(),
        condition_holds,
        exit_holds,
        ledger: &customer.ledger,
        text: &text,
        brand: &rulebook.brand,
        policy,
        holidays: &rulebook.holidays,
    };
    match policy::decide(&input) {
        Decision::Send => {
            let segments = count_segments(&text).segments;
            Outcome::Send {
                text,
                segments,
                template,
            }
        }
        Decision::Defer { until, reason } => Outcome::Defer {
            until,
            reason,
            text: Some(text),
        },
        Decision::Skip { reason } => Outcome::Skip {
            reason,
            text: Some(text),
        },
    }
}
