//! `PUT/GET/DELETE /v1/customers/{id}` and `POST /v1/customers:batch`.
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::auth::Caller;
use super::batch::{parse_items, refused};
use super::body::parse;
use super::problem::{customer_not_found, region_forbidden, Problem};
use super::views::CustomerView;
use super::AppState;
use nudge_core::domain::{Customer, CustomerId};
use nudge_core::ports::Store;
use nudge_core::service::{validate_customer_input, Batch, CustomerInput, CustomerWritten};

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

/// The answer to a batch: per customer, in order, whether it was created and its version.
#[derive(Debug, Serialize)]
struct BatchWritten<'a> {
    customers: Vec<WrittenView<'a>>,
}

#[derive(Debug, Serialize)]
struct WrittenView<'a> {
    id: &'a CustomerId,
    created: bool,
    version: u64,
}

impl<'a> WrittenView<'a> {
    fn of(written: &'a CustomerWritten) -> Self {
        WrittenView {
            id: &written.customer.id,
            created: written.created,
            version: written.customer.version,
        }
    }
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

pub async fn put<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Problem> {
    let input: CustomerBody = parse(&body)?;
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
    let caller = &caller;
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
        return Err(Problem::not_found(customer_not_found(&input.id)));
    }
    let customer = state.engine.upsert_customer(caller.tenant(), input).await?;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(CustomerView::of(&customer))).into_response())
}

pub async fn get<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let customer_id = CustomerId::parse(id.clone())?;
    let customer = visible_customer(&state, &caller, &customer_id)
        .await?
        .ok_or_else(|| Problem::not_found(customer_not_found(&id)))?;
    Ok(Json(CustomerView::of(&customer)).into_response())
}

pub async fn delete<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let customer_id = CustomerId::parse(id.clone())?;
    let not_found = || Problem::not_found(customer_not_found(&id));
    if visible_customer(&state, &caller, &customer_id)
        .await?
        .is_none()
    {
        return Err(not_found());
    }
    if !state
        .engine
        .delete_customer(caller.tenant(), &customer_id)
        .await?
    {
        return Err(not_found());
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// All-or-nothing import: every item is parsed, then the engine checks them all (semantics,
/// repeats, regions) before writing any.
pub async fn batch<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, Problem> {
    let batch: BatchBody = parse(&body)?;
    let inputs: Vec<CustomerInput> = parse_items(batch.customers, "customers")?;
    match state.engine.upsert_customers(&caller.key, inputs).await? {
        Batch::Written(written) => {
            let customers = written.iter().map(WrittenView::of).collect();
            Ok(Json(BatchWritten { customers }).into_response())
        }
        Batch::Refused(errors) => Err(refused(errors)),
    }
}
