//! Tenant-wide reports: `GET /v1/stats`, `GET /v1/reports/replies`, `GET /v1/reports/kpis`
//! and its CSV `GET /v1/reports/kpis.csv`. They read counters of the whole tenant, so a key
//! limited to regions gets 403.
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{NaiveDate, TimeDelta};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::problem::Problem;
use super::AppState;
use nudge_core::ports::{StatsRow, Store};
use nudge_core::service::report::{check_range, DEFAULT_TOP_TEXTS, MAX_TOP_TEXTS};
use nudge_core::service::DeliverySummary;

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KpisQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// One rule only.
    #[serde(default)]
    rule: Option<String>,
}

/// The KPI report (JSON): per rule and day and in total, sent, delivered, replies, opt-outs,
/// conversions and the holdout lift, `from` and `to` inclusive (default: the last 7 days).
pub async fn kpis<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    query: Result<Query<KpisQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let report = kpi_report(&state, &caller, query).await?;
    Ok(Json(report).into_response())
}

/// The KPI report as a CSV tracking table, downloaded as
/// `nudge-kpis-{tenant}-{from}-{to}.csv`.
pub async fn kpis_csv<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    query: Result<Query<KpisQuery>, QueryRejection>,
) -> Result<Response, Problem> {
    let report = kpi_report(&state, &caller, query).await?;
    let file = format!(
        "attachment; filename=\"nudge-kpis-{}-{}-{}.csv\"",
        report.tenant, report.from, report.to
    );
    let headers = [
        (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
        (header::CONTENT_DISPOSITION, file),
    ];
    Ok((headers, report.to_csv()).into_response())
}

async fn kpi_report<S: Store + ?Sized>(
    state: &AppState<S>,
    caller: &Caller,
    query: Result<Query<KpisQuery>, QueryRejection>,
) -> Result<nudge_core::service::KpiReport, Problem> {
    let Query(query) = query.map_err(|e| Problem::bad_request("invalid-query", e.body_text()))?;
    let (from, to) = report_range(
        state,
        caller,
        "reports are",
        query.from.as_deref(),
        query.to.as_deref(),
    )?;
    Ok(state
        .engine
        .kpi_report(caller.tenant(), from, to, query.rule.as_deref())
        .await?)
}
