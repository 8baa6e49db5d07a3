//! `PUT/GET/DELETE /v1/customers/{id}` and `POST /v1/customers:batch`.
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::HashSet;

use super::auth::Caller;
use super::body::{accept, parse, parse_item};
use super::problem::{ItemError, Problem};
use super::{AppState, MAX_BATCH};
use nudge_core::domain::{Customer, CustomerId, Scope};
use nudge_core::ports::Store;
use nudge_core::service::{validate_customer_input, CustomerInput};

/// The body of `PUT /v1/customers/{id}`: the fields without the id (or with the same id).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerBody {
    #[serde(default)]
    id: Option<String>,
    phone: String,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    attributes: Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    customers: Vec<Value>,
}

/// What the API shows of a customer (the send ledger and trigger marks stay internal).
pub fn customer_json(c: &Customer) -> Value {
    let activity: Map<String, Value> = c
        .activity
        .iter()
        .map(|(kind, a)| {
            let summary = json!({"count": a.count, "first_at": a.first_at, "last_at": a.last_at});
            (kind.clone(), summary)
        })
        .collect();
    json!({
        "id": c.id, "phone": c.phone, "region": c.region, "timezone": c.timezone,
        "locale": c.locale, "attributes": c.attributes, "consent": c.consent,
        "activity": activity, "created_at": c.created_at, "updated_at": c.updated_at,
        "version": c.version,
    })
}

/// The stored customer if it exists and the caller may see it.
pub(super) async fn visible_customer<S: Store + ?Sized>(
    state: &AppState<S>,
    caller: &Caller,
    id: &CustomerId,
) -> Result<Option<Customer>, Problem> {
    let found = state
        .engine
        .store()
        .get_customer(caller.tenant(), id)
        .await?;
    Ok(found.filter(|c| caller.sees(c)))
}

fn customer_not_found(id: &str) -> Problem {
    Problem::not_found(format!("customer {id} not found"))
}

fn region_forbidden(region: Option<&str>) -> String {
    match region {
        Some(r) => format!("this API key may not write customers of region {r:?}"),
        None => "this API key may only write customers with one of its regions".into(),
    }
}

pub async fn put<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::CustomersWrite, true).await?;
    let input: CustomerBody = parse(&req.body)?;
    if input.id.as_ref().is_some_and(|body_id| *body_id != id) {
        return Err(Problem::invalid("id", "does not match the id in the path"));
    }
    let input = CustomerInput {
        id,
        phone: input.phone,
        region: input.region,
        timezone: input.timezone,
        locale: input.locale,
        attributes: input.attributes,
    };
    let caller = &req.caller;
    let rulebook = state.engine.rulebook(caller.tenant())?;
    validate_customer_input(rulebook, &input)?;
    if !caller.may_write_region(input.region.as_deref()) {
        return Err(Problem::forbidden(region_forbidden(
            input.region.as_deref(),
        )));
    }
    let customer_id = CustomerId::parse(input.id.clone())?;
    let existing = state
        .engine
        .store()
        .get_customer(caller.tenant(), &customer_id)
        .await?;
    if existing.as_ref().is_some_and(|c| !caller.sees(c)) {
        return Err(customer_not_found(&input.id));
    }
    let customer = state.engine.upsert_customer(caller.tenant(), input).await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(customer_json(&customer))).into_response())
}

pub async fn get<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::Read, false).await?;
    let customer_id = CustomerId::parse(id.clone())?;
    let customer = visible_customer(&state, &req.caller, &customer_id)
        .await?
        .ok_or_else(|| customer_not_found(&id))?;
    Ok(Json(customer_json(&customer)).into_response())
}

pub async fn delete<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::CustomersWrite, false).await?;
    let customer_id = CustomerId::parse(id.clone())?;
    if visible_customer(&state, &req.caller, &customer_id)
        .await?
        .is_none()
    {
        return Err(customer_not_found(&id));
    }
    if !state
        .engine
        .delete_customer(req.caller.tenant(), &customer_id)
        .await?
    {
        return Err(customer_not_found(&id));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// All-or-nothing import: every item is checked (shape, then semantics and regions) before
/// anything is written.
pub async fn batch<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let req = accept(&state, &headers, body, Scope::CustomersWrite, true).await?;
    let caller = &req.caller;
    let batch: BatchBody = parse(&req.body)?;
    check_batch_size(batch.customers.len(), "customers")?;
    let mut inputs = Vec::with_capacity(batch.customers.len());
    let mut errors = Vec::new();
    for (i, item) in batch.customers.into_iter().enumerate() {
        match parse_item::<CustomerInput>(item, i) {
            Ok(input) => inputs.push(input),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(batch_problem(errors));
    }
    let rulebook = state.engine.rulebook(caller.tenant())?;
    let mut seen = HashSet::new();
    for (i, input) in inputs.iter().enumerate() {
        let item_error = |field: &str, detail: String, status: u16| ItemError {
            field: format!("items[{i}].{field}"),
            detail,
            status,
        };
        if let Err(nudge_core::Error::Invalid { field, message }) =
            validate_customer_input(rulebook, input)
        {
            errors.push(item_error(&field, message, 422));
            continue;
        }
        if !seen.insert(input.id.as_str()) {
            errors.push(item_error("id", "appears twice in the batch".into(), 422));
            continue;
        }
        if !caller.may_write_region(input.region.as_deref()) {
            errors.push(item_error(
                "region",
                region_forbidden(input.region.as_deref()),
                403,
            ));
            continue;
        }
        if caller.is_regional() {
            let id = CustomerId::parse(input.id.clone())?;
            let stored = state
                .engine
                .store()
                .get_customer(caller.tenant(), &id)
                .await?;
            if stored.is_some_and(|c| !caller.sees(&c)) {
                errors.push(item_error(
                    "id",
                    format!("customer {} not found", input.id),
                    404,
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(batch_problem(errors));
    }
    let mut results = Vec::with_capacity(inputs.len());
    for input in inputs {
        let id = CustomerId::parse(input.id.clone())?;
        let existed = state
            .engine
            .store()
            .get_customer(caller.tenant(), &id)
            .await?
            .is_some();
        let customer = state.engine.upsert_customer(caller.tenant(), input).await?;
        results.push(json!({"id": customer.id, "created": !existed, "version": customer.version}));
    }
    Ok(Json(json!({"customers": results})).into_response())
}

pub(super) fn check_batch_size(len: usize, field: &str) -> Result<(), Problem> {
    if len > MAX_BATCH {
        return Err(Problem::bad_request(
            "batch-too-large",
            format!("at most {MAX_BATCH} items per batch; got {len}"),
        )
        .field(field));
    }
    if len == 0 {
        return Err(Problem::bad_request("empty-batch", "the batch has no items").field(field));
    }
    Ok(())
}

/// One problem for a failing batch: 400 if any item is malformed, else 403 / 404 / 422 by the
/// most serious item error. Nothing was stored.
pub(super) fn batch_problem(errors: Vec<ItemError>) -> Problem {
    let worst = [400, 403, 404]
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
