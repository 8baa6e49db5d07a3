//! `POST /v1/events`: one event object, or `{"events": [...]}` (at most 500), idempotent by
//! `event_id`. A batch is checked whole (shape, ids, types, customers) before any is ingested.
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::collections::HashMap;

use super::body::{accept, parse, parse_item};
use super::customers::{batch_problem, check_batch_size, visible_customer};
use super::problem::{ItemError, Problem};
use super::AppState;
use nudge_core::domain::{CustomerId, Scope};
use nudge_core::ports::Store;
use nudge_core::service::{validate_event_input, EventInput, IngestReport};

pub async fn post<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::EventsWrite, true).await?;
    let value: Value = parse(&req.body)?;
    let is_batch = value.as_object().is_some_and(|m| m.contains_key("events"));
    if !is_batch {
        return single(&state, &req.caller, &req.body).await;
    }
    let items = match value {
        Value::Object(mut map) if map.len() == 1 => match map.remove("events") {
            Some(Value::Array(items)) => items,
            _ => {
                return Err(
                    Problem::bad_request("invalid-body", "events must be an array").field("events"),
                )
            }
        },
        _ => {
            return Err(Problem::bad_request(
                "invalid-body",
                "a batch is {\"events\": [...]} without other fields",
            ))
        }
    };
    check_batch_size(items.len(), "events")?;
    let mut inputs = Vec::with_capacity(items.len());
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match parse_item::<EventInput>(item, i) {
            Ok(input) => inputs.push(input),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(batch_problem(errors));
    }
    let caller = &req.caller;
    let now = state.engine.now();
    let mut known: HashMap<String, bool> = HashMap::new();
    for (i, input) in inputs.iter().enumerate() {
        if let Err(nudge_core::Error::Invalid { field, message }) =
            validate_event_input(caller.tenant(), input, now)
        {
            errors.push(ItemError {
                field: format!("items[{i}].{field}"),
                detail: message,
                status: 422,
            });
            continue;
        }
        let visible = match known.get(&input.customer_id) {
            Some(v) => *v,
            None => {
                let id = CustomerId::parse(input.customer_id.clone())?;
                let v = visible_customer(&state, caller, &id).await?.is_some();
                known.insert(input.customer_id.clone(), v);
                v
            }
        };
        if !visible {
            errors.push(ItemError {
                field: format!("items[{i}].customer_id"),
                detail: format!("customer {} not found", input.customer_id),
                status: 404,
            });
        }
    }
    if !errors.is_empty() {
        return Err(batch_problem(errors));
    }
    let mut results = Vec::with_capacity(inputs.len());
    for input in inputs {
        let event_id = input.event_id.clone();
        let report = state.engine.ingest_event(caller.tenant(), input).await?;
        results.push(report_json(&event_id, &report));
    }
    Ok(Json(json!({"events": results})).into_response())
}

async fn single<S: Store + ?Sized>(
    state: &AppState<S>,
    caller: &super::Caller,
    body: &[u8],
) -> Result<Response, Problem> {
    let input: EventInput = parse(body)?;
    if caller.is_regional() {
        let id = CustomerId::parse(input.customer_id.clone())?;
        if visible_customer(state, caller, &id).await?.is_none() {
            return Err(Problem::not_found(format!(
                "customer {} not found",
                input.customer_id
            )));
        }
    }
    let event_id = input.event_id.clone();
    let report = state.engine.ingest_event(caller.tenant(), input).await?;
    let status = if report.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(report_json(&event_id, &report))).into_response())
}

fn report_json(event_id: &str, report: &IngestReport) -> Value {
    let decisions: Vec<Value> = report
        .decisions
        .iter()
        .map(|d| {
            let mut v = json!(d);
            if let Some(map) = v.as_object_mut() {
                map.remove("tenant");
            }
            v
        })
        .collect();
    json!({
        "event_id": event_id,
        "duplicate": report.duplicate,
        "timers_armed": report.timers_armed,
        "decisions": decisions,
    })
}
