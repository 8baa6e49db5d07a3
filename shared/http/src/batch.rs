//! Batch requests (`POST /v1/customers:batch`, `{"events": [...]}`): at most [`MAX_BATCH`]
//! items, each parsed on its own, then checked whole by the engine, which writes all or none.
//! A refused batch is one problem listing every failing item as `items[i].field`.
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::body::parse_item;
use super::problem::{customer_not_found, region_forbidden, ItemProblem, Problem};
use super::MAX_BATCH;
use nudge_core::service::{event_id_reused, ItemError, ItemFault, Refusal};

/// Parses the items of the batch in `field` (1 to [`MAX_BATCH`] of them). A malformed item is
/// a 400 naming it, after every item was tried.
pub fn parse_items<T: DeserializeOwned>(items: Vec<Value>, field: &str) -> Result<Vec<T>, Problem> {
    if items.len() > MAX_BATCH {
        return Err(Problem::bad_request(
            "batch-too-large",
            format!("at most {MAX_BATCH} items per batch; got {}", items.len()),
        )
        .field(field));
    }
    if items.is_empty() {
        return Err(Problem::bad_request("empty-batch", "the batch has no items").field(field));
    }
    let mut parsed = Vec::with_capacity(items.len());
    let mut malformed = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        match parse_item(item, index) {
            Ok(item) => parsed.push(item),
            Err(problem) => malformed.push(problem),
        }
    }
    if malformed.is_empty() {
        Ok(parsed)
    } else {
        Err(batch_problem(malformed))
    }
}

/// The problem for a batch the engine refused.
pub fn refused(errors: Vec<ItemError<Refusal>>) -> Problem {
    batch_problem(errors.iter().map(item_problem).collect())
}

fn item_problem(error: &ItemError<Refusal>) -> ItemProblem {
    let (status, detail) = match &error.fault {
        Refusal::Fault(ItemFault::Invalid(message)) => (422, message.clone()),
        Refusal::Fault(ItemFault::Repeated { .. }) => (422, "appears twice in the batch".into()),
        Refusal::OutsideRegions { region } => (403, region_forbidden(region.as_deref())),
        Refusal::CustomerNotFound { id } => (404, customer_not_found(id)),
        Refusal::IdReused { recorded } => (409, event_id_reused(recorded)),
    };
    ItemProblem {
        field: format!("items[{}].{}", error.index, error.field),
        detail,
        status,
    }
}

/// One problem for a failing batch: 400 if any item is malformed, else 403 / 404 / 422 / 409
/// by the most serious item error. Nothing was stored.
fn batch_problem(errors: Vec<ItemProblem>) -> Problem {
    let worst = [400, 403, 404, 422, 409]
        .into_iter()
        .find(|s| errors.iter().any(|e| e.status == *s))
        .unwrap_or(422);
    let status = StatusCode::from_u16(worst).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
    let detail = format!(
        "{} item(s) of the batch are invalid; nothing was stored",
        errors.len()
    );
    let mut problem = Problem::new(status, "invalid-batch", "Invalid batch").detail(detail);
    if let Some(first) = errors.first() {
        problem = problem.field(first.field.clone());
    }
    problem.errors(errors)
}
