//! Read-only routes: `POST /v1/preview`, `GET /v1/customers/{id}/messages`, `GET /v1/stats`,
//! `GET /v1/reports/replies`.
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
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
use nudge_core::ports::{StatsRow, Store};
use nudge_core::service::report::{check_range, DEFAULT_TOP_TEXTS, MAX_TOP_TEXTS};
use nudge_core::service::{decide, DeliverySummary, Outcome};

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    rule: Option<String>,
}

fn day(field: &str, value: Option<&str>) -> Result<Option<NaiveDate>, Problem> {
    value
        .map(|v| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                Problem::bad_request("invalid-query", format!("{v:?} is not a YYYY-MM-DD date"))
                    .field(field)
            })
        })
        .transpose()
}

/// The days of a report query, `from` and `to` inclusive (default: the 7 days ending today),
/// for a key that sees the whole tenant.
fn report_range<S: Store + ?Sized>(
    state: &AppState<S>,
    caller: &Caller,
    what: &str,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(NaiveDate, NaiveDate), Problem> {
    if caller.is_regional() {
        return Err(Problem::forbidden(format!(
            "{what} tenant-wide; use an API key without regions"
        )));
    }
    let today = state.engine.now().date_naive();
    let to = day("to", to)?.unwrap_or(today);
    let from = day("from", from)?.unwrap_or(to - TimeDelta::days(6));
    check_range(from, to)?;
    Ok((from, to))
}

/// Counters per rule and day of a period, and what receipts said about its texts.
#[derive(Debug, Serialize)]
struct Stats {
    from: NaiveDate,
    to: NaiveDate,
    rows: Vec<StatsRow>,
    delivery: DeliverySummary,
}

/// Counters per rule and day, `from` and `to` inclusive (default: the last 7 days).
pub async fn stats<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    query: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let (from, to) = report_range(
        &state,
        &caller,
        "stats are",
        query.from.as_deref(),
        query.to.as_deref(),
    )?;
    let rows = state
        .engine
        .store()
        .stats(caller.tenant(), from, to)
        .await?;
    let rows: Vec<StatsRow> = rows
        .into_iter()
        .filter(|r| query.rule.as_ref().is_none_or(|rule| &r.rule == rule))
        .collect();
    let delivery = DeliverySummary::of(&rows);
    Ok(Json(Stats {
        from,
        to,
        rows,
        delivery,
    })
    .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepliesReportQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// How many free-text replies to list (1–100, default 10).
    #[serde(default)]
    limit: Option<String>,
}

/// The reply report: per rule sent, replies, opt-outs and opt-out rate, keyword counts and the
/// most frequent free-text replies, `from` and `to` inclusive (default: the last 7 days).
pub async fn replies_report<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    query: Result<Query<RepliesReportQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let (from, to) = report_range(
        &state,
        &caller,
        "reports are",
        query.from.as_deref(),
        query.to.as_deref(),
    )?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_TOP_TEXTS,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_TOP_TEXTS).contains(n))
            .ok_or_else(|| {
                Problem::bad_request(
                    "invalid-query",
                    format!("{text:?} is not a number from 1 to {MAX_TOP_TEXTS}"),
                )
                .field("limit")
            })?,
    };
    let report = state
        .engine
        .replies_report(caller.tenant(), from, to, limit)
        .await?;
    Ok(Json(report).into_response())
}
