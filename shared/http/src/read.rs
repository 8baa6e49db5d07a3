//! Read-only routes about one customer: `POST /v1/preview`, `GET /v1/customers/{id}/messages`.
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::auth::Caller;
use super::body::parse;
use super::customers::visible_customer;
use super::problem::{customer_not_found, Problem};
use super::views::MessageView;
use super::AppState;
use nudge_core::domain::{Category, CustomerId, Event, EventId, RuleId};
use nudge_core::policy::count_segments;
use nudge_core::ports::Store;
use nudge_core::service::{decide, Outcome};

const DEFAULT_MESSAGES: usize = 100;
const MAX_MESSAGES: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    rule: String,
    customer_id: String,
    /// For event-triggered rules: the event the template may read.
    #[serde(default)]
    event: Option<PreviewEvent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewEvent {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    event_id: Option<String>,
    #[serde(default)]
    properties: Map<String, Value>,
}

/// What a rule would do for a customer now: the outcome, and the text, its segments, the
/// reason and the instant deferred to when there are.
#[derive(Debug, Serialize)]
struct Preview<'a> {
    rule: &'a RuleId,
    customer_id: &'a CustomerId,
    category: &'a Category,
    outcome: &'static str,
    at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    segments: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<DateTime<Utc>>,
}

/// Renders a rule for a customer and applies the policies as of now, writing nothing.
pub async fn preview<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let input: PreviewBody = parse(&body)?;
    let caller = &caller;
    let rulebook = state.engine.rulebook(caller.tenant())?;
    let rule_id = RuleId::parse(input.rule.clone())?;
    let rule = rulebook.rule(&rule_id).ok_or_else(|| {
        Problem::invalid("rule", format!("no rule {} in the rulebook", input.rule))
    })?;
    let customer_id = CustomerId::parse(input.customer_id.clone())?;
    let customer = visible_customer(&state, caller, &customer_id)
        .await?
        .ok_or_else(|| Problem::not_found(customer_not_found(&input.customer_id)))?;
    let now = state.engine.now();
    let event = input
        .event
        .map(|e| -> nudge_core::Result<Event> {
            Ok(Event {
                tenant: caller.tenant().clone(),
                event_id: EventId::parse(e.event_id.unwrap_or_else(|| "preview".into()))?,
                customer_id: customer_id.clone(),
                event_type: e.event_type,
                occurred_at: now,
                properties: e.properties,
            })
        })
        .transpose()?;
    let outcome = decide(rulebook, rule, &customer, event.as_ref(), now);
    let until = match &outcome {
        Outcome::Defer { until, .. } => Some(*until),
        _ => None,
    };
    let text = outcome.text();
    Ok(Json(Preview {
        rule: &rule.id,
        customer_id: &customer.id,
        category: &rule.category,
        outcome: outcome.kind(),
        at: now,
        text,
        segments: text.map(|text| count_segments(text).segments),
        reason: outcome.reason(),
        until,
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    #[serde(default)]
    limit: Option<usize>,
}

/// A customer's texts, newest first.
#[derive(Debug, Serialize)]
struct CustomerMessages<'a> {
    customer_id: &'a CustomerId,
    messages: Vec<MessageView<'a>>,
}

pub async fn messages<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<MessagesQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let limit = query
        .limit
        .unwrap_or(DEFAULT_MESSAGES)
        .clamp(1, MAX_MESSAGES);
    let customer_id = CustomerId::parse(id.clone())?;
    visible_customer(&state, &caller, &customer_id)
        .await?
        .ok_or_else(|| Problem::not_found(customer_not_found(&id)))?;
    let messages = state
        .engine
        .store()
        .customer_messages(caller.tenant(), &customer_id, limit)
        .await?;
    Ok(Json(CustomerMessages {
        customer_id: &customer_id,
        messages: messages.iter().map(MessageView::of).collect(),
    })
    .into_response())
}
