//! `POST /v1/events`: one event object, or `{"events": [...]}` (at most 500), idempotent by
//! `event_id`. A batch is checked whole (shape, ids, types, customers) before any is ingested.
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;

use super::auth::Caller;
use super::batch::{parse_items, refused};
use super::body::{parse, parse_again};
use super::customers::visible_customer;
use super::problem::{customer_not_found, Problem};
use super::views::IngestView;
use super::AppState;
use nudge_core::domain::CustomerId;
use nudge_core::ports::Store;
use nudge_core::service::{Batch, EventInput};

/// The answer to a batch: per event, in order, what ingesting it did.
#[derive(Debug, Serialize)]
struct BatchIngested<'a> {
    events: Vec<IngestView<'a>>,
}

pub async fn post<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let value: Value = parse(&body)?;
    let is_batch = value.as_object().is_some_and(|m| m.contains_key("events"));
    if !is_batch {
        return single(&state, &caller, &body).await;
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
    let inputs: Vec<EventInput> = parse_items(items, "events")?;
    let event_ids: Vec<String> = inputs.iter().map(|e| e.event_id.clone()).collect();
    match state.engine.ingest_events(&caller.key, inputs).await? {
        Batch::Written(reports) => {
            let events = event_ids
                .iter()
                .zip(&reports)
                .map(|(id, report)| IngestView::of(id, report))
                .collect();
            Ok(Json(BatchIngested { events }).into_response())
        }
        Batch::Refused(errors) => Err(refused(errors)),
    }
}

async fn single<S: Store + ?Sized>(
    state: &AppState<S>,
    caller: &Caller,
    body: &[u8],
) -> Result<Response, Problem> {
    // `post` parsed the same bytes (keys checked) to tell a single event from a batch.
    let input: EventInput = parse_again(body)?;
    if caller.is_regional() {
        let id = CustomerId::parse(input.customer_id.clone())?;
        if visible_customer(state, caller, &id).await?.is_none() {
            return Err(Problem::not_found(customer_not_found(&input.customer_id)));
        }
    }
    let event_id = input.event_id.clone();
    let report = state.engine.ingest_event(caller.tenant(), input).await?;
    let status = if report.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(IngestView::of(&event_id, &report))).into_response())
}
