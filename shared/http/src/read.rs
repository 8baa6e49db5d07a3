//! Read-only routes: `POST /v1/preview`, `GET /v1/customers/{id}/messages`, `GET /v1/stats`,
//! `GET /v1/reports/replies`.
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{NaiveDate, TimeDelta};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body::{accept, parse};
use super::customers::visible_customer;
use super::problem::Problem;
use super::AppState;
use nudge_core::domain::{CustomerId, Event, EventId, RuleId, Scope};
use nudge_core::policy::count_segments;
use nudge_core::ports::Store;
use nudge_core::service::report::{check_range, DEFAULT_TOP_TEXTS, MAX_TOP_TEXTS};
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

/// Renders a rule for a customer and applies the policies as of now, writing nothing.
pub async fn preview<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::Read, true).await?;
    let input: PreviewBody = parse(&req.body)?;
    let caller = &req.caller;
    let rulebook = state.engine.rulebook(caller.tenant())?;
    let rule_id = RuleId::parse(input.rule.clone())?;
    let rule = rulebook.rule(&rule_id).ok_or_else(|| {
        Problem::invalid("rule", format!("no rule {} in the rulebook", input.rule))
    })?;
    let customer_id = CustomerId::parse(input.customer_id.clone())?;
    let customer = visible_customer(&state, caller, &customer_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("customer {} not found", input.customer_id)))?;
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
    let mut body = json!({
        "rule": rule.id, "customer_id": customer.id, "category": rule.category,
        "outcome": outcome.kind(), "at": now,
    });
    if let Some(map) = body.as_object_mut() {
        if let Some(text) = outcome.text() {
            map.insert("text".into(), text.into());
            map.insert("segments".into(), count_segments(text).segments.into());
        }
        if let Some(reason) = outcome.reason() {
            map.insert("reason".into(), reason.into());
        }
        if let Outcome::Defer { until, .. } = &outcome {
            map.insert("until".into(), json!(until));
        }
    }
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    #[serde(default)]
    limit: Option<usize>,
}

pub async fn messages<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    query: Result<Query<MessagesQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::Read, false).await?;
    let Query(query) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let limit = query
        .limit
        .unwrap_or(DEFAULT_MESSAGES)
        .clamp(1, MAX_MESSAGES);
    let customer_id = CustomerId::parse(id.clone())?;
    visible_customer(&state, &req.caller, &customer_id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("customer {id} not found")))?;
    let messages = state
        .engine
        .store()
        .customer_messages(req.caller.tenant(), &customer_id, limit)
        .await?;
    let messages: Vec<Value> = messages
        .iter()
        .map(|m| {
            let mut v = json!(m);
            if let Some(map) = v.as_object_mut() {
                map.remove("tenant");
            }
            v
        })
        .collect();
    Ok(Json(json!({"customer_id": customer_id, "messages": messages})).into_response())
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
    caller: &super::Caller,
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

/// Counters per rule and day, `from` and `to` inclusive (default: the last 7 days).
pub async fn stats<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    query: Result<Query<StatsQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::Read, false).await?;
    let Query(query) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let (from, to) = report_range(
        &state,
        &req.caller,
        "stats are",
        query.from.as_deref(),
        query.to.as_deref(),
    )?;
    let rows = state
        .engine
        .store()
        .stats(req.caller.tenant(), from, to)
        .await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| query.rule.as_ref().is_none_or(|rule| &r.rule == rule))
        .collect();
    Ok(Json(json!({"from": from, "to": to, "rows": rows})).into_response())
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
    query: Result<Query<RepliesReportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::Read, false).await?;
    let Query(query) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let (from, to) = report_range(
        &state,
        &req.caller,
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
        .replies_report(req.caller.tenant(), from, to, limit)
        .await?;
    Ok(Json(report).into_response())
}
