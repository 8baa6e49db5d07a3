//! Tencent Cloud SMS callbacks, one pair of URLs per tenant, registered in the Tencent console:
//!
//! - `POST /v1/callbacks/tencent/{tenant}/status?token=…`: delivery status reports, recorded
//!   as receipts of the texts Tencent accepted;
//! - `POST /v1/callbacks/tencent/{tenant}/reply?token=…`: a customer's reply, handed to the
//!   reply service (so `TD` / `退订` opt the customer out).
//!
//! Tencent signs neither callback, so the credential is the tenant's callback token in the
//! URL, compared in constant time. Both answer Tencent's `{"result":0,"errmsg":"OK"}`.
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::body::read_body_within;
use super::problem::Problem;
use super::{AppState, MAX_BODY_BYTES};
use nudge_core::domain::TenantId;
use nudge_core::ports::Store;
use nudge_core::service::{check_provider_id, Receipts};
use nudge_tencent::{parse_reply, parse_status, CallbackError, SUCCESS_ANSWER};

/// The tenant named in the path, once the query's token is its callback token: 404 for a
/// tenant that takes no Tencent callbacks (or no such tenant), 401 for a wrong token.
fn authenticate<S: Store + ?Sized>(
    state: &AppState<S>,
    tenant: &str,
    query: Option<&str>,
) -> Result<TenantId, Problem> {
    let not_found = || Problem::not_found("no tenant here takes Tencent callbacks at this URL");
    let tenant = TenantId::parse(tenant).map_err(|_| not_found())?;
    let expected = state
        .config
        .tencent_callback_tokens
        .get(&tenant)
        .ok_or_else(not_found)?;
    let presented = query
        .map(|q| form_urlencoded::parse(q.as_bytes()))
        .and_then(|mut pairs| pairs.find(|(name, _)| name == "token"))
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| Problem::unauthorized("missing ?token= (the tenant's callback token)"))?;
    // Hashes first, so the comparison takes as long whatever the presented token's length.
    let same: bool = Sha256::digest(presented.as_bytes())
        .ct_eq(&Sha256::digest(expected.as_bytes()))
        .into();
    if same {
        Ok(tenant)
    } else {
        Err(Problem::unauthorized(
            "invalid token: not this tenant's Tencent callback token",
        ))
    }
}

fn invalid(err: CallbackError) -> Problem {
    Problem::bad_request("invalid-body", format!("{}: {}", err.field, err.message)).field(err.field)
}

fn success() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        SUCCESS_ANSWER,
    )
        .into_response()
}

/// The tenant a callback is for, once its token is checked, and the callback's body.
async fn callback<S: Store + ?Sized>(
    state: &AppState<S>,
    tenant: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(TenantId, Bytes), Problem> {
    let tenant = authenticate(state, tenant, query)?;
    let raw = read_body_within(
        headers,
        body,
        MAX_BODY_BYTES,
        state.config.body_read_timeout,
    )
    .await?;
    Ok((tenant, raw))
}

pub async fn status<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let (tenant, raw) = callback(&state, &tenant, query.as_deref(), &headers, body).await?;
    let receipts = parse_status(&raw).map_err(invalid)?;
    for (index, receipt) in receipts.iter().enumerate() {
        check_provider_id(&receipt.provider_id)
            .map_err(|message| Problem::invalid(format!("[{index}].sid"), message))?;
    }
    let recorder = Receipts::new(state.engine.clone(), state.publisher.clone());
    for receipt in &receipts {
        recorder.record(receipt).await?;
    }
    tracing::info!(tenant = %tenant, receipts = receipts.len(), "tencent status reports");
    Ok(success())
}

pub async fn reply<S: Store + ?Sized>(
    State(state): State<AppState<S>>,
    Path(tenant): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let (tenant, raw) = callback(&state, &tenant, query.as_deref(), &headers, body).await?;
    // Tencent does not say which number was texted: the reply is to the tenant's (first) one.
    let to = state
        .engine
        .rulebook(&tenant)
        .ok()
        .and_then(|book| book.numbers.first().map(|n| n.as_str().to_string()))
        .unwrap_or_default();
    let sms = parse_reply(&raw, &to).map_err(invalid)?;
    state
        .engine
        .handle_reply(&tenant, sms, state.publisher.as_ref())
        .await?;
    Ok(success())
}
